//! A Sunshine Conversations v2 webhook delivery, read: `{"app": {"id"},
//! "webhook": {...}, "events": [...]}`, each event
//! `{"id", "type", "createdAt", "payload": {...}}`. Lenient about what it
//! does not need (unknown fields and event types are kept as `Other`),
//! strict about what it does (ids, authors, content).

use serde_json::Value;

/// Why a delivery could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadDelivery(pub String);

/// A switchboard integration, as events name it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Integration {
    /// Its id.
    pub id: String,
    /// Its name (e.g. `zd-agentWorkspace`, or the bot's).
    pub name: String,
    /// Its type (e.g. `zd:agentWorkspace`, `custom`).
    pub integration_type: String,
}

impl Integration {
    /// Whether this is the integration `who` names (by id, name or type).
    pub fn is(&self, who: &str) -> bool {
        !who.is_empty() && (self.id == who || self.name == who || self.integration_type == who)
    }
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Author {
    /// The customer.
    User,
    /// The business: the bot itself or a human agent.
    Business,
}

/// A `conversation:message` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Sunshine's conversation id.
    pub conversation_id: String,
    /// The integration in control when it was sent, if the event says.
    pub active: Option<Integration>,
    /// Sunshine's message id.
    pub message_id: String,
    /// Who wrote it.
    pub author: Author,
    /// The customer's user id (or external id), when given.
    pub user_id: Option<String>,
    /// The author's display name, when given.
    pub display_name: Option<String>,
    /// What it says, as text: a text message's text; for other content
    /// (image, file, location, …) what can be said of it (its type, media
    /// URL, alt text, coordinates), never nothing.
    pub text: String,
    /// The content's type (`text`, `image`, `file`, …).
    pub content_type: String,
}

/// A `switchboard:*` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Switch {
    /// Sunshine's conversation id.
    pub conversation_id: String,
    /// The integration in control after it.
    pub active: Option<Integration>,
    /// Why, when given (e.g. `ticketClosed`).
    pub reason: Option<String>,
}

/// What an event is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// `conversation:message`.
    Message(Message),
    /// `switchboard:passControl` (control given to `active`).
    PassControl(Switch),
    /// `switchboard:releaseControl` (no one in control).
    ReleaseControl(Switch),
    /// Anything else (kept, so that it is acknowledged and de-duplicated).
    Other(String),
}

/// One event of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Unique; what a retried delivery repeats.
    pub id: String,
    /// Its type, as sent.
    pub event_type: String,
    /// What it is.
    pub kind: Kind,
}

/// A delivery: the app and its events, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The app id.
    pub app_id: String,
    /// The events, in the order sent.
    pub events: Vec<Event>,
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn need(v: Option<String>, what: &str) -> Result<String, BadDelivery> {
    v.filter(|s| !s.is_empty())
        .ok_or_else(|| BadDelivery(format!("{what} is missing")))
}

fn integration(v: Option<&Value>) -> Option<Integration> {
    let v = v.filter(|v| v.is_object())?;
    Some(Integration {
        id: text(v.get("id")).unwrap_or_default(),
        name: text(v.get("name")).unwrap_or_default(),
        integration_type: text(v.get("integrationType")).unwrap_or_default(),
    })
}

/// What a message's content says, as text.
fn content_text(content: &Value) -> (String, String) {
    let kind = text(content.get("type")).unwrap_or_else(|| "unknown".into());
    if kind == "text" {
        return (kind, text(content.get("text")).unwrap_or_default());
    }
    let mut parts: Vec<String> = Vec::new();
    if let Some(t) = text(content.get("text")).filter(|t| !t.trim().is_empty()) {
        parts.push(t);
    }
    if let Some(alt) = text(content.get("altText")).filter(|t| !t.trim().is_empty()) {
        parts.push(alt);
    }
    if let Some(url) = text(content.get("mediaUrl")) {
        parts.push(url);
    }
    if let (Some(lat), Some(long)) = (
        content.pointer("/coordinates/lat"),
        content.pointer("/coordinates/long"),
    ) {
        parts.push(format!("location {lat},{long}"));
    }
    if let Some(items) = content.get("items").and_then(Value::as_array) {
        for item in items {
            if let Some(t) = text(item.get("title")) {
                parts.push(t);
            }
        }
    }
    let said = if parts.is_empty() {
        format!("[{kind}]")
    } else {
        format!("[{kind}] {}", parts.join(" "))
    };
    (kind, said)
}

fn message(payload: &Value) -> Result<Message, BadDelivery> {
    let conversation = payload.get("conversation");
    let m = payload
        .get("message")
        .ok_or_else(|| BadDelivery("payload.message is missing".into()))?;
    let author = m.get("author");
    let author_type = text(author.and_then(|a| a.get("type")));
    let author = match author_type.as_deref() {
        Some("user") => Author::User,
        Some("business") => Author::Business,
        other => return Err(BadDelivery(format!("unknown author type {other:?}"))),
    };
    let content = m.get("content").cloned().unwrap_or(Value::Null);
    let (content_type, text_said) = content_text(&content);
    Ok(Message {
        conversation_id: need(
            text(conversation.and_then(|c| c.get("id"))),
            "payload.conversation.id",
        )?,
        active: integration(conversation.and_then(|c| c.get("activeSwitchboardIntegration"))),
        message_id: need(text(m.get("id")), "payload.message.id")?,
        author,
        user_id: text(m.pointer("/author/userId"))
            .or_else(|| text(m.pointer("/author/user/id")))
            .or_else(|| text(m.pointer("/author/user/externalId"))),
        display_name: text(m.pointer("/author/displayName")),
        text: text_said,
        content_type,
    })
}

fn switch(payload: &Value) -> Result<Switch, BadDelivery> {
    let conversation = payload.get("conversation");
    Ok(Switch {
        conversation_id: need(
            text(conversation.and_then(|c| c.get("id"))),
            "payload.conversation.id",
        )?,
        active: integration(conversation.and_then(|c| c.get("activeSwitchboardIntegration"))),
        reason: text(payload.get("reason")),
    })
}

/// Reads one event (an unknown type is `Other`; a known one that is not
/// readable is an error).
fn event(v: &Value) -> Result<Event, BadDelivery> {
    let id = need(text(v.get("id")), "event id")?;
    let event_type = need(text(v.get("type")), "event type")?;
    let payload = v.get("payload").cloned().unwrap_or(Value::Null);
    let kind = match event_type.as_str() {
        "conversation:message" => Kind::Message(message(&payload)?),
        "switchboard:passControl" => Kind::PassControl(switch(&payload)?),
        "switchboard:releaseControl" => Kind::ReleaseControl(switch(&payload)?),
        other => Kind::Other(other.to_owned()),
    };
    Ok(Event {
        id,
        event_type,
        kind,
    })
}

/// Reads a delivery. Each event is read on its own: one that cannot be
/// read is answered as `Err` in its place, so the others still count.
pub fn parse(body: &[u8]) -> Result<(String, Vec<Result<Event, BadDelivery>>), BadDelivery> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| BadDelivery(format!("not JSON: {e}")))?;
    let app_id = need(text(v.pointer("/app/id")), "app.id")?;
    let events = v
        .get("events")
        .and_then(Value::as_array)
        .ok_or_else(|| BadDelivery("events is missing".into()))?;
    Ok((app_id, events.iter().map(event).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn delivery(events: Value) -> Vec<u8> {
        json!({"app": {"id": "app1"}, "webhook": {"id": "wh1", "version": "v2"}, "events": events})
            .to_string()
            .into_bytes()
    }

    #[test]
    fn a_delivery_with_two_events_is_read_in_order() {
        let body = delivery(json!([
            {"id": "e1", "type": "conversation:message", "createdAt": "2026-12-06T10:00:00.000Z",
             "payload": {"conversation": {"id": "c1", "type": "personal",
                "activeSwitchboardIntegration": {"id": "i1", "name": "glbridge", "integrationType": "custom"}},
               "message": {"id": "m1", "received": "2026-12-06T10:00:00.000Z",
                 "author": {"type": "user", "userId": "u1", "displayName": "Sam"},
                 "content": {"type": "text", "text": "Hello"}, "source": {"type": "web"}}}},
            {"id": "e2", "type": "switchboard:passControl",
             "payload": {"conversation": {"id": "c1",
                "activeSwitchboardIntegration": {"id": "i2", "name": "zd-agentWorkspace", "integrationType": "zd:agentWorkspace"}},
               "reason": "ticketClosed"}}
        ]));
        let (app, events) = parse(&body).unwrap();
        assert_eq!(app, "app1");
        let events: Vec<Event> = events.into_iter().map(Result::unwrap).collect();
        let Kind::Message(m) = &events[0].kind else {
            panic!("{events:?}")
        };
        assert_eq!((m.text.as_str(), m.author), ("Hello", Author::User));
        assert!(m.active.as_ref().unwrap().is("glbridge"));
        let Kind::PassControl(s) = &events[1].kind else {
            panic!("{events:?}")
        };
        assert!(s.active.as_ref().unwrap().is("zd:agentWorkspace"));
        assert_eq!(s.reason.as_deref(), Some("ticketClosed"));
    }

    #[test]
    fn other_content_is_said_as_text_never_dropped() {
        let body = delivery(json!([
            {"id": "e1", "type": "conversation:message",
             "payload": {"conversation": {"id": "c1"},
               "message": {"id": "m1", "author": {"type": "user"},
                 "content": {"type": "image", "mediaUrl": "https://x.test/a.png", "altText": "a receipt"}}}},
            {"id": "e2", "type": "conversation:message",
             "payload": {"conversation": {"id": "c1"},
               "message": {"id": "m2", "author": {"type": "user"},
                 "content": {"type": "location", "coordinates": {"lat": 1.5, "long": 2.5}}}}},
            {"id": "e3", "type": "conversation:typing", "payload": {}}
        ]));
        let (_, events) = parse(&body).unwrap();
        let texts: Vec<String> = events
            .into_iter()
            .map(|e| match e.unwrap().kind {
                Kind::Message(m) => m.text,
                Kind::Other(t) => t,
                k => panic!("{k:?}"),
            })
            .collect();
        assert_eq!(
            texts,
            [
                "[image] a receipt https://x.test/a.png",
                "[location] location 1.5,2.5",
                "conversation:typing"
            ]
        );
    }

    #[test]
    fn what_cannot_be_read_says_why() {
        assert!(parse(b"nope").is_err());
        assert!(parse(br#"{"events": []}"#).is_err());
        let (_, events) = parse(&delivery(json!([
            {"id": "e1", "type": "conversation:message", "payload": {"conversation": {"id": "c1"}}}
        ])))
        .unwrap();
        assert!(events[0].is_err());
    }
}
