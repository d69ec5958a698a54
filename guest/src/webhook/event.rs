//! Webhook envelopes and their typed events.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use super::signature::WebhookError;
use crate::time::Timestamp;

/// The conversation an event is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookConversation {
    /// Your id.
    pub id: String,
    /// Your customer id.
    #[serde(default)]
    pub customer_id: String,
    /// Its metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
}

/// `agent.message`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentMessage {
    /// The conversation.
    pub conversation: WebhookConversation,
    /// Text (markdown).
    pub body: String,
    /// A holding message.
    #[serde(default)]
    pub is_holding: bool,
    /// Intent.
    #[serde(default)]
    pub intent: Option<String>,
    /// Parts in this reply.
    #[serde(default)]
    pub total: Option<u32>,
    /// This part's place.
    #[serde(default)]
    pub sequence: Option<u32>,
    /// The customer message answered.
    #[serde(default)]
    pub last_customer_message_id: Option<String>,
}

/// `conversation.hand_off`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandOff {
    /// The conversation.
    pub conversation: WebhookConversation,
    /// Target id.
    #[serde(default)]
    pub target: Option<String>,
    /// Coded reason.
    #[serde(default)]
    pub reason_code: String,
    /// Human-readable reason.
    #[serde(default)]
    pub reason: String,
    /// Note for the human.
    #[serde(default)]
    pub note: Option<String>,
    /// Intent.
    #[serde(default)]
    pub intent: Option<String>,
}

/// `conversation.finished`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finished {
    /// The conversation.
    pub conversation: WebhookConversation,
    /// Coded reason.
    #[serde(default)]
    pub reason_code: Option<String>,
    /// Intent.
    #[serde(default)]
    pub intent: Option<String>,
}

/// `action.execute`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionExecute {
    /// The conversation.
    pub conversation: WebhookConversation,
    /// Action name.
    pub action: String,
    /// Parameters (a JSON object).
    #[serde(default)]
    pub params: Value,
    /// Set for asynchronous actions.
    #[serde(default)]
    pub async_tool_execution_id: Option<String>,
}

/// `resource.pull`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourcePull {
    /// The conversation.
    pub conversation: WebhookConversation,
    /// Resource type.
    pub resource_type: String,
}

/// What an event carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum EventData {
    AgentMessage(AgentMessage),
    HandOff(HandOff),
    Finished(Finished),
    ActionExecute(ActionExecute),
    ResourcePull(ResourcePull),
    BackOfficeTaskComplete(Value),
    BackOfficeTaskHandOff(Value),
    BackOfficeTaskFail(Value),
    /// A type this version does not know (kept, not an error).
    Unknown(Value),
}

/// One webhook event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEvent {
    /// Unique id.
    pub id: String,
    /// Type as sent.
    pub event_type: String,
    /// Order within the conversation (0 when absent).
    pub sequence_number: u64,
    /// When generated.
    pub timestamp: Timestamp,
    /// `data.conversation.id`, when present.
    pub conversation_id: Option<String>,
    /// Typed data.
    pub data: EventData,
    /// Raw `data`, as the text it arrived as.
    pub raw_data: RawJson,
    /// `X-GradientLabs-Token`.
    pub token: Option<String>,
}

/// A JSON value kept as the text it arrived as: the webhook's `data` is
/// handed on verbatim, never parsed into a tree and encoded again.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RawJson(Box<RawValue>);

impl RawJson {
    /// The JSON text.
    pub fn get(&self) -> &str {
        self.0.get()
    }

    /// The JSON text, owned.
    pub fn into_string(self) -> String {
        Box::<str>::from(self.0).into()
    }

    /// Parses the text into a tree.
    pub fn to_value(&self) -> Value {
        serde_json::from_str(self.get()).unwrap_or(Value::Null)
    }

    /// Checks that `text` is one JSON value and keeps it.
    pub fn from_text(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str::<Box<RawValue>>(text).map(RawJson)
    }

    /// The text of a tree.
    pub fn from_value(value: &Value) -> Self {
        // Encoding a `Value` cannot fail (its keys are strings).
        RawJson(serde_json::value::to_raw_value(value).unwrap_or_else(|_| null()))
    }
}

fn null() -> Box<RawValue> {
    RawValue::NULL.to_owned()
}

impl PartialEq for RawJson {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl Eq for RawJson {}

impl std::fmt::Debug for RawJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.get())
    }
}

impl WebhookEvent {
    /// The envelope as the API sent it, plus `conversation_id` and `token`:
    /// `{id, type, sequence_number, timestamp, conversation_id, token, data}`.
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "id": self.id,
            "type": self.event_type,
            "sequence_number": self.sequence_number,
            "timestamp": self.timestamp,
            "conversation_id": self.conversation_id,
            "token": self.token,
            "data": self.raw_data.to_value(),
        })
    }
}

#[derive(Deserialize)]
struct Envelope {
    id: String,
    #[serde(rename = "type")]
    event_type: String,
    #[serde(default)]
    sequence_number: u64,
    #[serde(default)]
    timestamp: Option<Timestamp>,
    data: Box<RawValue>,
}

/// The typed kinds all carry their conversation.
trait About {
    fn conversation_id(&self) -> &str;
}

macro_rules! about {
    ($($t:ty),*) => {$(
        impl About for $t {
            fn conversation_id(&self) -> &str {
                &self.conversation.id
            }
        }
    )*};
}
about!(AgentMessage, HandOff, Finished, ActionExecute, ResourcePull);

/// Reads `data` as a typed kind (the raw text is read a second time, straight
/// into the struct: cheaper than a tree read once and walked).
fn typed<T: serde::de::DeserializeOwned + About>(
    event_type: &str,
    data: &RawValue,
    wrap: fn(T) -> EventData,
) -> Result<(EventData, Option<String>), WebhookError> {
    let value: T = serde_json::from_str(data.get())
        .map_err(|e| WebhookError::InvalidEnvelope(format!("{event_type} data: {e}")))?;
    let id = value.conversation_id().to_owned();
    Ok((wrap(value), Some(id)))
}

/// Kinds kept as JSON: the tree, and `conversation.id` when it is a string.
fn untyped(
    data: &RawValue,
    wrap: fn(Value) -> EventData,
) -> Result<(EventData, Option<String>), WebhookError> {
    let value: Value = serde_json::from_str(data.get())
        .map_err(|e| WebhookError::InvalidEnvelope(e.to_string()))?;
    let id = value
        .get("conversation")
        .and_then(|c| c.get("id"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok((wrap(value), id))
}

/// Parses a webhook body (no signature check). Unknown types are kept as
/// [`EventData::Unknown`].
pub fn parse(body: &[u8], token: Option<&str>) -> Result<WebhookEvent, WebhookError> {
    let envelope: Envelope =
        serde_json::from_slice(body).map_err(|e| WebhookError::InvalidEnvelope(e.to_string()))?;
    if envelope.id.is_empty() {
        return Err(WebhookError::InvalidEnvelope("empty id".into()));
    }
    // A raw value starts at its first byte: an object starts with `{`.
    if !envelope.data.get().starts_with('{') {
        return Err(WebhookError::InvalidEnvelope(
            "data is not an object".into(),
        ));
    }
    let t = envelope.event_type.as_str();
    let raw = &envelope.data;
    let (data, conversation_id) = match t {
        "agent.message" => typed(t, raw, EventData::AgentMessage)?,
        "conversation.hand_off" => typed(t, raw, EventData::HandOff)?,
        "conversation.finished" => typed(t, raw, EventData::Finished)?,
        "action.execute" => typed(t, raw, EventData::ActionExecute)?,
        "resource.pull" => typed(t, raw, EventData::ResourcePull)?,
        "back-office-task.complete" => untyped(raw, EventData::BackOfficeTaskComplete)?,
        "back-office-task.hand-off" => untyped(raw, EventData::BackOfficeTaskHandOff)?,
        "back-office-task.fail" => untyped(raw, EventData::BackOfficeTaskFail)?,
        _ => untyped(raw, EventData::Unknown)?,
    };
    Ok(WebhookEvent {
        id: envelope.id,
        event_type: envelope.event_type,
        sequence_number: envelope.sequence_number,
        timestamp: envelope.timestamp.unwrap_or_default(),
        conversation_id,
        data,
        raw_data: RawJson(envelope.data),
        token: token.map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(t: &str, data: &str) -> Vec<u8> {
        format!(
            r#"{{"id":"wh_1","type":"{t}","sequence_number":5,"timestamp":"2023-10-23T17:24:50.804952Z","data":{data}}}"#
        )
        .into_bytes()
    }

    const CONV: &str = r#""conversation":{"id":"c-1","customer_id":"u-1","metadata":{"k":"v"}}"#;

    #[test]
    fn every_documented_type_is_typed() {
        let cases = [
            (
                "agent.message",
                format!(r#"{{{CONV},"body":"hi","is_holding":true,"total":2,"sequence":1}}"#),
            ),
            (
                "conversation.hand_off",
                format!(r#"{{{CONV},"target":"billing","reason_code":"x","reason":"y"}}"#),
            ),
            (
                "conversation.finished",
                format!(r#"{{{CONV},"reason_code":"resolved"}}"#),
            ),
            (
                "action.execute",
                format!(r#"{{{CONV},"action":"dog-fact","params":{{"breed":"lab"}}}}"#),
            ),
            (
                "resource.pull",
                format!(r#"{{{CONV},"resource_type":"orders"}}"#),
            ),
            ("back-office-task.complete", format!("{{{CONV}}}")),
            ("back-office-task.hand-off", format!("{{{CONV}}}")),
            ("back-office-task.fail", format!("{{{CONV}}}")),
        ];
        for (t, data) in cases {
            let e = parse(&body(t, &data), Some("tok")).unwrap();
            assert_eq!(e.event_type, t);
            assert_eq!(e.sequence_number, 5);
            assert_eq!(e.conversation_id.as_deref(), Some("c-1"));
            assert_eq!(e.token.as_deref(), Some("tok"));
            assert!(!matches!(e.data, EventData::Unknown(_)), "{t}");
        }
        let e = parse(
            &body(
                "agent.message",
                &format!(r#"{{{CONV},"body":"hi","is_holding":true}}"#),
            ),
            None,
        )
        .unwrap();
        match e.data {
            EventData::AgentMessage(m) => {
                assert_eq!(m.body, "hi");
                assert!(m.is_holding);
                assert_eq!(m.conversation.metadata, Some(serde_json::json!({"k": "v"})));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_types_keep_their_data() {
        let e = parse(&body("brand.new", r#"{"x":1}"#), None).unwrap();
        assert_eq!(e.data, EventData::Unknown(serde_json::json!({"x": 1})));
        assert_eq!(e.to_json()["data"]["x"], 1);
    }

    #[test]
    fn not_an_envelope() {
        for bad in [
            &b"not json"[..],
            br#"{"id":"x"}"#,
            br#"{"id":"x","type":"agent.message","data":{"body":"no conversation"}}"#,
        ] {
            assert!(matches!(
                parse(bad, None),
                Err(WebhookError::InvalidEnvelope(_))
            ));
        }
    }
}
