//! Gleap, the first helpdesk: its custom-API-action payload, its TipTap
//! documents, and the bridge between it and the AI agent.

pub mod adapter;
pub mod tiptap;

use serde_json::Value;

/// A customer comment ready to forward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerComment {
    /// Gleap's comment id.
    pub comment_id: String,
    /// The message id sent to the API (derived from the comment id).
    pub message_id: String,
    /// Flattened text.
    pub text: String,
}

/// A Gleap custom-action call, read tolerantly.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionCall {
    /// Gleap's conversation (ticket) id.
    pub gleap_conversation_id: String,
    /// The AI-agent conversation id: `gleap-<id>`.
    pub conversation_id: String,
    /// The customer: `userId`, else `gleapId`, else `email`.
    pub customer_id: String,
    /// Customer comments, oldest first.
    pub comments: Vec<CustomerComment>,
    /// Comments that could not be used, with the reason.
    pub skipped: Vec<String>,
    /// The session and custom data, attached as a resource.
    pub context: Value,
}

/// Why a Gleap call could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadCall(pub String);

fn str_field<'a>(v: &'a Value, names: &[&str]) -> Option<&'a str> {
    names.iter().find_map(|n| {
        v.get(*n)
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
    })
}

/// Letters, digits and `_ - + = .` only, as ids must be.
pub fn id_safe(raw: &str) -> String {
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+' | '=' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// Reads the JSON Gleap posts: `{conversation, session, comments}`.
pub fn parse_action(body: &[u8]) -> Result<ActionCall, BadCall> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| BadCall(format!("body is not JSON: {e}")))?;
    let conversation = v
        .get("conversation")
        .filter(|c| c.is_object())
        .ok_or_else(|| BadCall("missing object `conversation`".into()))?;
    let gleap_id = match conversation.get("id") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(BadCall("missing `conversation.id`".into())),
    };
    let session = v
        .get("session")
        .filter(|s| s.is_object())
        .ok_or_else(|| BadCall("missing object `session`".into()))?;
    let customer_id = str_field(session, &["userId", "gleapId", "email"])
        .ok_or_else(|| {
            BadCall(
                "`session` has none of `userId`, `gleapId`, `email` to identify the customer"
                    .into(),
            )
        })?
        .to_owned();
    let raw_comments = match v.get("comments") {
        Some(Value::Array(a)) => a.as_slice(),
        None | Some(Value::Null) => &[],
        Some(_) => return Err(BadCall("`comments` is not an array".into())),
    };
    let mut comments = Vec::new();
    let mut skipped = Vec::new();
    for (i, c) in raw_comments.iter().enumerate() {
        if !c.is_object() || c.as_object().is_some_and(|o| o.is_empty()) {
            skipped.push(format!("comment {i}: empty"));
            continue;
        }
        if c.get("bot").and_then(Value::as_bool).unwrap_or(false) {
            continue;
        }
        if c.get("user").is_some_and(|u| !u.is_null()) {
            // Written by a team member, not the customer.
            continue;
        }
        let Some(id) = (match c.get("id").or_else(|| c.get("_id")) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        }) else {
            skipped.push(format!(
                "comment {i}: no `id` or `_id`, so it cannot be forwarded exactly once"
            ));
            continue;
        };
        let text = match c
            .get("comment")
            .or_else(|| c.get("data").and_then(|d| d.get("content")))
        {
            Some(Value::String(s)) => tiptap::flatten_text(s),
            Some(doc @ Value::Object(_)) => tiptap::flatten(doc),
            _ => String::new(),
        };
        if text.trim().is_empty() {
            skipped.push(format!("comment {i} ({id}): no text in `comment`"));
            continue;
        }
        comments.push(CustomerComment {
            message_id: format!("gleap-{}", id_safe(&id)),
            comment_id: id,
            text,
        });
    }
    let context = serde_json::json!({
        "gleap_conversation_id": gleap_id,
        "conversation_type": conversation.get("type"),
        "conversation_custom_data": conversation.get("customData"),
        "session": session,
    });
    Ok(ActionCall {
        conversation_id: format!("gleap-{}", id_safe(&gleap_id)),
        gleap_conversation_id: gleap_id,
        customer_id,
        comments,
        skipped,
        context,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call(comments: Value) -> Vec<u8> {
        json!({
            "conversation": {"id": "T 42", "type": "INQUIRY", "customData": {"plan": "pro"}},
            "session": {"id": "s", "gleapId": "g-1", "email": "sam@example.com", "name": "Sam"},
            "comments": comments,
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn reads_the_documented_shape_and_keeps_customer_comments_only() {
        let body = call(json!([
            {"_id": "c1", "comment": {"type": "doc", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Where is my order?"}]}]}, "bot": false},
            {"id": "c2", "comment": "plain text", "bot": true},
            {"id": "c3", "comment": "from an agent", "user": {"id": "agent-1"}},
            {"id": 7, "comment": "numbers work", "user": null},
        ]));
        let c = parse_action(&body).unwrap();
        assert_eq!(
            (c.conversation_id.as_str(), c.customer_id.as_str()),
            ("gleap-T-42", "g-1")
        );
        let texts: Vec<(&str, &str)> = c
            .comments
            .iter()
            .map(|c| (c.message_id.as_str(), c.text.as_str()))
            .collect();
        assert_eq!(
            texts,
            vec![
                ("gleap-c1", "Where is my order?"),
                ("gleap-7", "numbers work")
            ]
        );
        assert_eq!(c.context["conversation_custom_data"]["plan"], "pro");
    }

    #[test]
    fn says_what_is_missing() {
        assert!(parse_action(b"nope").unwrap_err().0.contains("not JSON"));
        assert!(parse_action(br#"{"session":{}}"#)
            .unwrap_err()
            .0
            .contains("conversation"));
        let no_customer =
            json!({"conversation": {"id": "1"}, "session": {"name": "x"}, "comments": []})
                .to_string();
        assert!(parse_action(no_customer.as_bytes())
            .unwrap_err()
            .0
            .contains("userId"));
        let c = parse_action(&call(json!([{}, {"comment": "no id"}]))).unwrap();
        assert!(c.comments.is_empty());
        assert!(c.skipped[1].contains("no `id`"), "{:?}", c.skipped);
    }

    #[test]
    fn prefers_user_id_then_gleap_id_then_email() {
        let with = |session: Value| {
            let b = json!({"conversation": {"id": "1"}, "session": session, "comments": []})
                .to_string();
            parse_action(b.as_bytes()).unwrap().customer_id
        };
        assert_eq!(
            with(json!({"userId": "u", "gleapId": "g", "email": "e@x"})),
            "u"
        );
        assert_eq!(
            with(json!({"userId": "", "gleapId": "g", "email": "e@x"})),
            "g"
        );
        assert_eq!(with(json!({"email": "e@x"})), "e@x");
    }
}
