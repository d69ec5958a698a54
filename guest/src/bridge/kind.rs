//! The helpdesks the bridge serves: the one list of them, and the one
//! place that says which owns a conversation. The core names no helpdesk
//! anywhere else.

/// A helpdesk glbridge bridges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Gleap, through its custom API action: it calls the bridge and waits.
    Gleap,
    /// Chatwoot agent bots: it sends events; the bridge calls its REST API.
    Chatwoot,
    /// Zendesk messaging (Sunshine Conversations): it sends events; the
    /// bridge calls its API.
    Zendesk,
}

impl Kind {
    /// Every helpdesk.
    pub const ALL: [Kind; 3] = [Kind::Gleap, Kind::Chatwoot, Kind::Zendesk];

    /// Its name: the prefix of its AI-agent conversation ids
    /// (`<name>-…`) and of its keys in the store.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Gleap => "gleap",
            Kind::Chatwoot => "chatwoot",
            Kind::Zendesk => "zendesk",
        }
    }

    /// Its name as people write it.
    pub fn title(self) -> &'static str {
        match self {
            Kind::Gleap => "Gleap",
            Kind::Chatwoot => "Chatwoot",
            Kind::Zendesk => "Zendesk",
        }
    }

    /// The helpdesk that owns an AI-agent conversation, from its id.
    pub fn of(conversation: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| {
            conversation
                .strip_prefix(k.name())
                .is_some_and(|rest| rest.starts_with('-'))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Kind;

    #[test]
    fn a_conversation_belongs_to_the_helpdesk_its_id_names() {
        assert_eq!(Kind::of("gleap-T1"), Some(Kind::Gleap));
        assert_eq!(Kind::of("chatwoot-7-101"), Some(Kind::Chatwoot));
        assert_eq!(Kind::of("zendesk-app1-c1"), Some(Kind::Zendesk));
        assert_eq!(Kind::of("gleapish-1"), None);
        assert_eq!(Kind::of("conv-1"), None);
        assert_eq!(Kind::of("gleap"), None);
    }
}
