//! Chatwoot's id scheme: the AI-agent ids of its conversations and messages.

/// The AI-agent conversation id of a Chatwoot conversation.
pub fn conversation_id(account_id: u64, conversation_id: u64) -> String {
    format!("chatwoot-{account_id}-{conversation_id}")
}

/// The AI-agent message id of a Chatwoot message.
pub fn message_id(account_id: u64, message_id: u64) -> String {
    format!("chatwoot-{account_id}-{message_id}")
}

/// The Chatwoot account and conversation of an AI-agent conversation id
/// (`None` when it is not one of Chatwoot's).
pub fn chatwoot_ids(conversation_id: &str) -> Option<(u64, u64)> {
    let rest = conversation_id.strip_prefix("chatwoot-")?;
    let (account, conversation) = rest.split_once('-')?;
    Some((account.parse().ok()?, conversation.parse().ok()?))
}
