//! Every API operation: its name, its request, and how its answer is read.
//!
//! One table for the wire format, shared by the client (which sends), the
//! pure `protocol` interface (which lets a host send) and the CLI.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::client::Config;
use crate::error::{ApiError, Error, Result};
use crate::http::{HttpRequest, HttpResponse, Method};
use crate::model::conversations::*;
use crate::model::knowledge::*;
use crate::model::management::*;
use crate::model::{Channel, ParticipantType};
use crate::validate;

/// Path segments keep only RFC 3986 unreserved characters.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// One API call with its parameters.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub enum Operation {
    StartConversation(StartParams),
    ReadConversation {
        conversation_id: String,
    },
    ReadConversationLegacy {
        conversation_id: String,
    },
    AddMessage {
        conversation_id: String,
        params: MessageParams,
    },
    AddEvent {
        conversation_id: String,
        params: EventParams,
    },
    Assign {
        conversation_id: String,
        params: AssignParams,
    },
    Finish {
        conversation_id: String,
        params: FinishParams,
    },
    End {
        conversation_id: String,
        params: EndParams,
    },
    Cancel {
        conversation_id: String,
        params: CancelParams,
    },
    Resume {
        conversation_id: String,
        params: AssignParams,
    },
    Rate {
        conversation_id: String,
        params: RatingParams,
    },
    PushResource {
        conversation_id: String,
        name: String,
        document: Value,
    },
    UpsertArticle(Article),
    DeleteArticle {
        id: String,
    },
    SetArticleUsage {
        id: String,
        usage_status: UsageStatus,
    },
    UpsertTopic(Topic),
    UpsertHandOffTarget(HandOffTarget),
    ListHandOffTargets,
    DeleteHandOffTarget {
        id: String,
    },
    SetDefaultHandOffTarget {
        id: String,
        channel: Channel,
    },
    GetDefaultHandOffTarget {
        channel: Channel,
    },
    PutSecret {
        name: String,
        value: String,
    },
    ListSecrets,
    DeleteSecret {
        name: String,
    },
    PutResourceType(ResourceType),
    GetResourceType {
        name: String,
    },
    ListResourceTypes,
    DeleteResourceType {
        name: String,
    },
    IpAddresses,
}

/// What an operation returns.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Output {
    /// Nothing (serialises as `null`).
    Nothing,
    /// A conversation.
    Conversation(Conversation),
    /// A message.
    Message(Message),
    /// Hand-off targets.
    HandOffTargets(Vec<HandOffTarget>),
    /// The default hand-off target's id, if set.
    DefaultHandOffTarget(Option<String>),
    /// Secrets.
    Secrets(Vec<SecretInfo>),
    /// A resource type.
    ResourceType(ResourceType),
    /// Resource types.
    ResourceTypes(Vec<ResourceType>),
    /// IP addresses.
    IpAddresses(IpAddresses),
}

/// The names `Operation::from_json` accepts, in the order of the WIT.
pub const OPERATION_NAMES: &[&str] = &[
    "conversations.start",
    "conversations.read",
    "conversations.read-legacy",
    "conversations.add-message",
    "conversations.add-event",
    "conversations.assign",
    "conversations.finish",
    "conversations.end",
    "conversations.cancel",
    "conversations.resume",
    "conversations.rate",
    "conversations.push-resource",
    "knowledge.upsert-article",
    "knowledge.delete-article",
    "knowledge.set-article-usage",
    "knowledge.upsert-topic",
    "management.upsert-hand-off-target",
    "management.list-hand-off-targets",
    "management.delete-hand-off-target",
    "management.set-default-hand-off-target",
    "management.get-default-hand-off-target",
    "management.put-secret",
    "management.list-secrets",
    "management.delete-secret",
    "management.put-resource-type",
    "management.get-resource-type",
    "management.list-resource-types",
    "management.delete-resource-type",
    "management.ip-addresses",
];

/// Parameters as a JSON object, with path parameters taken out by name.
struct Params(Map<String, Value>);

impl Params {
    fn new(value: Value) -> Result<Self> {
        match value {
            Value::Object(map) => Ok(Params(map)),
            Value::Null => Ok(Params(Map::new())),
            other => Err(Error::invalid(
                "params",
                format!("must be a JSON object, not {}", json_kind(&other)),
            )),
        }
    }

    fn take_string(&mut self, field: &str) -> Result<String> {
        match self.0.remove(field) {
            Some(Value::String(s)) => Ok(s),
            Some(other) => Err(Error::invalid(
                field,
                format!("must be a string, not {}", json_kind(&other)),
            )),
            None => Err(Error::invalid(field, "is required")),
        }
    }

    fn take_value(&mut self, field: &str) -> Result<Value> {
        self.0
            .remove(field)
            .ok_or_else(|| Error::invalid(field, "is required"))
    }

    fn take<T: DeserializeOwned>(&mut self, field: &str) -> Result<T> {
        let value = self.take_value(field)?;
        serde_json::from_value(value).map_err(|e| Error::invalid(field, e.to_string()))
    }

    fn rest<T: DeserializeOwned>(self) -> Result<T> {
        serde_json::from_value(Value::Object(self.0)).map_err(|e| validate::serde_error(&e))
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// What `build` decides before assembling the request.
struct Wire {
    method: Method,
    path: Vec<String>,
    query: Option<(&'static str, String)>,
    body: Option<Value>,
}

impl Wire {
    fn new(method: Method, path: &[&str]) -> Self {
        Wire {
            method,
            path: path.iter().map(|s| (*s).to_owned()).collect(),
            query: None,
            body: None,
        }
    }

    fn body<T: Serialize>(mut self, body: &T) -> Result<Self> {
        let value =
            serde_json::to_value(body).map_err(|e| Error::invalid("params", e.to_string()))?;
        self.body = Some(value);
        Ok(self)
    }
}

impl Operation {
    /// Builds an operation from its name and its parameters as JSON (wire
    /// field names plus path parameters such as `conversation_id`).
    pub fn from_json(name: &str, params: Value) -> Result<Self> {
        use Operation as O;
        let mut p = Params::new(params)?;
        let op = match name {
            "conversations.start" => O::StartConversation(p.rest()?),
            "conversations.read" => O::ReadConversation {
                conversation_id: p.take_string("conversation_id")?,
            },
            "conversations.read-legacy" => O::ReadConversationLegacy {
                conversation_id: p.take_string("conversation_id")?,
            },
            "conversations.add-message" => O::AddMessage {
                conversation_id: p.take_string("conversation_id")?,
                params: p.rest()?,
            },
            "conversations.add-event" => O::AddEvent {
                conversation_id: p.take_string("conversation_id")?,
                params: p.rest()?,
            },
            "conversations.assign" => O::Assign {
                conversation_id: p.take_string("conversation_id")?,
                params: p.rest()?,
            },
            "conversations.finish" => O::Finish {
                conversation_id: p.take_string("conversation_id")?,
                params: p.rest()?,
            },
            "conversations.end" => O::End {
                conversation_id: p.take_string("conversation_id")?,
                params: p.rest()?,
            },
            "conversations.cancel" => O::Cancel {
                conversation_id: p.take_string("conversation_id")?,
                params: p.rest()?,
            },
            "conversations.resume" => O::Resume {
                conversation_id: p.take_string("conversation_id")?,
                params: p.rest()?,
            },
            "conversations.rate" => O::Rate {
                conversation_id: p.take_string("conversation_id")?,
                params: p.rest()?,
            },
            "conversations.push-resource" => O::PushResource {
                conversation_id: p.take_string("conversation_id")?,
                name: p.take_string("name")?,
                document: p.take_value("document")?,
            },
            "knowledge.upsert-article" => O::UpsertArticle(p.rest()?),
            "knowledge.delete-article" => O::DeleteArticle {
                id: p.take_string("id")?,
            },
            "knowledge.set-article-usage" => O::SetArticleUsage {
                id: p.take_string("id")?,
                usage_status: p.take("usage_status")?,
            },
            "knowledge.upsert-topic" => O::UpsertTopic(p.rest()?),
            "management.upsert-hand-off-target" => O::UpsertHandOffTarget(p.rest()?),
            "management.list-hand-off-targets" => O::ListHandOffTargets,
            "management.delete-hand-off-target" => O::DeleteHandOffTarget {
                id: p.take_string("id")?,
            },
            "management.set-default-hand-off-target" => O::SetDefaultHandOffTarget {
                id: p.take_string("id")?,
                channel: p.take("channel")?,
            },
            "management.get-default-hand-off-target" => O::GetDefaultHandOffTarget {
                channel: p.take("channel")?,
            },
            "management.put-secret" => O::PutSecret {
                name: p.take_string("name")?,
                value: p.take_string("value")?,
            },
            "management.list-secrets" => O::ListSecrets,
            "management.delete-secret" => O::DeleteSecret {
                name: p.take_string("name")?,
            },
            "management.put-resource-type" => O::PutResourceType(p.rest()?),
            "management.get-resource-type" => O::GetResourceType {
                name: p.take_string("name")?,
            },
            "management.list-resource-types" => O::ListResourceTypes,
            "management.delete-resource-type" => O::DeleteResourceType {
                name: p.take_string("name")?,
            },
            "management.ip-addresses" => O::IpAddresses,
            other => {
                return Err(Error::invalid(
                    "operation",
                    format!(
                        "unknown operation {other:?}; expected one of: {}",
                        OPERATION_NAMES.join(", ")
                    ),
                ))
            }
        };
        Ok(op)
    }

    /// Whether sending it twice is harmless. Everything is idempotent but an
    /// event without an idempotency key.
    pub fn is_idempotent(&self) -> bool {
        match self {
            Operation::AddEvent { params, .. } => params.idempotency_key.is_some(),
            _ => true,
        }
    }

    /// Checks the parameters: ids, required fields, sizes.
    pub fn validate(&self) -> Result<()> {
        use Operation as O;
        match self {
            O::StartConversation(p) => {
                validate::id("id", &p.id)?;
                validate::required("customer_id", &p.customer_id)?;
                if let Some(resources) = &p.resources {
                    let Value::Object(map) = resources else {
                        return Err(Error::invalid(
                            "resources",
                            "must be an object of name → document",
                        ));
                    };
                    for (name, doc) in map {
                        validate::id("resources", name)?;
                        check_resource_size(doc)?;
                    }
                }
                Ok(())
            }
            O::ReadConversation { conversation_id }
            | O::ReadConversationLegacy { conversation_id }
            | O::End {
                conversation_id, ..
            }
            | O::Finish {
                conversation_id, ..
            }
            | O::Cancel {
                conversation_id, ..
            } => validate::id("conversation_id", conversation_id),
            O::AddMessage {
                conversation_id,
                params,
            } => {
                validate::id("conversation_id", conversation_id)?;
                validate::id("id", &params.id)?;
                validate::required("participant_id", &params.participant_id)?;
                if params.participant_type == ParticipantType::AiAgent {
                    return Err(Error::invalid(
                        "participant_type",
                        "must be Customer, Agent or Bot (the AI agent's messages come from the API)",
                    ));
                }
                if params.body.trim().is_empty() && params.attachments.is_empty() {
                    return Err(Error::invalid(
                        "body",
                        "is required when there are no attachments",
                    ));
                }
                for a in &params.attachments {
                    validate::required("attachments.file_name", &a.file_name)?;
                }
                Ok(())
            }
            O::AddEvent {
                conversation_id,
                params,
            } => {
                validate::id("conversation_id", conversation_id)?;
                validate::required("participant_id", &params.participant_id)?;
                if let Some(id) = &params.message_id {
                    validate::id("message_id", id)?;
                }
                Ok(())
            }
            O::Assign {
                conversation_id, ..
            }
            | O::Resume {
                conversation_id, ..
            } => validate::id("conversation_id", conversation_id),
            O::Rate {
                conversation_id,
                params,
            } => {
                validate::id("conversation_id", conversation_id)?;
                validate::required("type", &params.kind)?;
                if params.min_value > params.max_value {
                    return Err(Error::invalid("min_value", "must not exceed max_value"));
                }
                if params.value < params.min_value || params.value > params.max_value {
                    return Err(Error::invalid(
                        "value",
                        "must lie between min_value and max_value",
                    ));
                }
                Ok(())
            }
            O::PushResource {
                conversation_id,
                name,
                document,
            } => {
                validate::id("conversation_id", conversation_id)?;
                validate::id("name", name)?;
                check_resource_size(document)
            }
            O::UpsertArticle(a) => {
                validate::id("id", &a.id)?;
                if let Some(topic) = &a.topic_id {
                    validate::id("topic_id", topic)?;
                }
                validate::required("body", &a.body)
            }
            O::DeleteArticle { id } | O::SetArticleUsage { id, .. } => validate::id("id", id),
            O::UpsertTopic(t) => {
                validate::id("id", &t.id)?;
                if let Some(parent) = &t.parent_id {
                    validate::id("parent_id", parent)?;
                }
                validate::required("name", &t.name)
            }
            O::UpsertHandOffTarget(t) => {
                validate::id("id", &t.id)?;
                validate::required("name", &t.name)
            }
            O::DeleteHandOffTarget { id } | O::SetDefaultHandOffTarget { id, .. } => {
                validate::id("id", id)
            }
            O::PutSecret { name, value } => {
                validate::id("name", name)?;
                validate::required("value", value)
            }
            O::DeleteSecret { name }
            | O::GetResourceType { name }
            | O::DeleteResourceType { name } => validate::id("name", name),
            O::PutResourceType(r) => {
                validate::id("name", &r.name)?;
                match (&r.mode, &r.pull_config) {
                    (ResourceMode::Pull, None) => Err(Error::invalid(
                        "pull_config",
                        "is required when mode is pull",
                    )),
                    (_, Some(c)) if !c.is_object() => {
                        Err(Error::invalid("pull_config", "must be an object"))
                    }
                    _ => Ok(()),
                }
            }
            O::ListHandOffTargets
            | O::GetDefaultHandOffTarget { .. }
            | O::ListSecrets
            | O::ListResourceTypes
            | O::IpAddresses => Ok(()),
        }
    }

    fn wire(&self) -> Result<Wire> {
        use Method::*;
        use Operation as O;
        let c = "conversations";
        Ok(match self {
            O::StartConversation(p) => Wire::new(Post, &[c]).body(p)?,
            O::ReadConversation {
                conversation_id: id,
            } => Wire::new(Get, &[c, id, "read"]),
            O::ReadConversationLegacy {
                conversation_id: id,
            } => Wire::new(Get, &[c, id]),
            O::AddMessage {
                conversation_id: id,
                params,
            } => Wire::new(Post, &[c, id, "messages"]).body(params)?,
            O::AddEvent {
                conversation_id: id,
                params,
            } => Wire::new(Post, &[c, id, "events"]).body(params)?,
            O::Assign {
                conversation_id: id,
                params,
            } => Wire::new(Put, &[c, id, "assignee"]).body(params)?,
            O::Finish {
                conversation_id: id,
                params,
            } => Wire::new(Put, &[c, id, "finish"]).body(params)?,
            O::End {
                conversation_id: id,
                params,
            } => Wire::new(Put, &[c, id, "end"]).body(params)?,
            O::Cancel {
                conversation_id: id,
                params,
            } => Wire::new(Put, &[c, id, "cancel"]).body(params)?,
            O::Resume {
                conversation_id: id,
                params,
            } => Wire::new(Put, &[c, id, "resume"]).body(params)?,
            O::Rate {
                conversation_id: id,
                params,
            } => Wire::new(Put, &[c, id, "rate"]).body(params)?,
            O::PushResource {
                conversation_id: id,
                name,
                document,
            } => Wire::new(Put, &[c, id, "resources", name]).body(document)?,
            O::UpsertArticle(a) => Wire::new(Post, &["articles"]).body(a)?,
            O::DeleteArticle { id } => Wire::new(Delete, &["articles", id]),
            O::SetArticleUsage { id, usage_status } => {
                Wire::new(Post, &["articles", id, "usage-status"])
                    .body(&json!({ "usage_status": usage_status }))?
            }
            O::UpsertTopic(t) => Wire::new(Post, &["topics"]).body(t)?,
            O::UpsertHandOffTarget(t) => Wire::new(Post, &["hand-off-targets"]).body(t)?,
            O::ListHandOffTargets => Wire::new(Get, &["hand-off-targets"]),
            // The one DELETE with a body, as the official clients send it.
            O::DeleteHandOffTarget { id } => {
                Wire::new(Delete, &["hand-off-targets"]).body(&json!({ "id": id }))?
            }
            O::SetDefaultHandOffTarget { id, channel } => {
                Wire::new(Put, &["hand-off-targets", "default"])
                    .body(&json!({ "id": id, "channel": channel }))?
            }
            O::GetDefaultHandOffTarget { channel } => Wire {
                query: Some(("channel", channel.as_str().to_owned())),
                ..Wire::new(Get, &["hand-off-targets", "default"])
            },
            O::PutSecret { name, value } => {
                Wire::new(Put, &["secrets", name]).body(&json!({ "value": value }))?
            }
            O::ListSecrets => Wire::new(Get, &["secrets"]),
            O::DeleteSecret { name } => Wire::new(Delete, &["secrets", name]),
            O::PutResourceType(r) => {
                let mut body = r.clone();
                body.name = String::new();
                Wire::new(Put, &["resource-types", &r.name]).body(&body)?
            }
            O::GetResourceType { name } => Wire::new(Get, &["resource-types", name]),
            O::ListResourceTypes => Wire::new(Get, &["resource-types"]),
            O::DeleteResourceType { name } => Wire::new(Delete, &["resource-types", name]),
            O::IpAddresses => Wire::new(Get, &["ip-addresses"]),
        })
    }

    /// Validates and builds the exact request the client sends.
    pub fn build(&self, config: &Config) -> Result<HttpRequest> {
        self.validate()?;
        let wire = self.wire()?;
        let mut url = config.base_url.trim_end_matches('/').to_owned();
        for segment in &wire.path {
            url.push('/');
            url.extend(utf8_percent_encode(segment, SEGMENT));
        }
        if let Some((key, value)) = &wire.query {
            url.push('?');
            url.extend(utf8_percent_encode(key, SEGMENT));
            url.push('=');
            url.extend(utf8_percent_encode(value, SEGMENT));
        }
        let mut headers = vec![
            (
                "Authorization".to_owned(),
                format!("Bearer {}", config.api_key.expose()),
            ),
            ("Accept".to_owned(), "application/json".to_owned()),
            ("User-Agent".to_owned(), config.user_agent()),
        ];
        let body = match wire.body {
            Some(value) => {
                let bytes = serde_json::to_vec(&value)
                    .map_err(|e| Error::invalid("params", e.to_string()))?;
                if bytes.len() > config.max_body_bytes as usize {
                    return Err(Error::invalid(
                        "body",
                        format!(
                            "is {} bytes, over the configured limit of {} bytes",
                            bytes.len(),
                            config.max_body_bytes
                        ),
                    ));
                }
                headers.push(("Content-Type".to_owned(), "application/json".to_owned()));
                Some(bytes)
            }
            None => None,
        };
        Ok(HttpRequest {
            method: wire.method,
            url,
            headers,
            body,
            timeout_ms: config.timeout_ms,
        })
    }

    /// The parameters as [`Operation::from_json`] takes them, for the
    /// conversation operations made of an optional `conversation_id` and a
    /// body (`None` for the others).
    pub fn params_json(&self) -> Option<Value> {
        use Operation as O;
        let (conversation_id, params) = match self {
            O::StartConversation(p) => (None, serde_json::to_value(p)),
            O::AddMessage {
                conversation_id,
                params,
            } => (Some(conversation_id), serde_json::to_value(params)),
            O::AddEvent {
                conversation_id,
                params,
            } => (Some(conversation_id), serde_json::to_value(params)),
            O::Assign {
                conversation_id,
                params,
            }
            | O::Resume {
                conversation_id,
                params,
            } => (Some(conversation_id), serde_json::to_value(params)),
            O::Finish {
                conversation_id,
                params,
            } => (Some(conversation_id), serde_json::to_value(params)),
            _ => return None,
        };
        let mut params = params.ok()?;
        if let (Some(id), Value::Object(map)) = (conversation_id, &mut params) {
            map.insert("conversation_id".into(), Value::String(id.clone()));
        }
        Some(params)
    }

    /// The operation's name, as [`Operation::from_json`] takes it.
    pub fn name(&self) -> &'static str {
        use Operation as O;
        match self {
            O::StartConversation(_) => "conversations.start",
            O::ReadConversation { .. } => "conversations.read",
            O::ReadConversationLegacy { .. } => "conversations.read-legacy",
            O::AddMessage { .. } => "conversations.add-message",
            O::AddEvent { .. } => "conversations.add-event",
            O::Assign { .. } => "conversations.assign",
            O::Finish { .. } => "conversations.finish",
            O::End { .. } => "conversations.end",
            O::Cancel { .. } => "conversations.cancel",
            O::Resume { .. } => "conversations.resume",
            O::Rate { .. } => "conversations.rate",
            O::PushResource { .. } => "conversations.push-resource",
            O::UpsertArticle(_) => "knowledge.upsert-article",
            O::DeleteArticle { .. } => "knowledge.delete-article",
            O::SetArticleUsage { .. } => "knowledge.set-article-usage",
            O::UpsertTopic(_) => "knowledge.upsert-topic",
            O::UpsertHandOffTarget(_) => "management.upsert-hand-off-target",
            O::ListHandOffTargets => "management.list-hand-off-targets",
            O::DeleteHandOffTarget { .. } => "management.delete-hand-off-target",
            O::SetDefaultHandOffTarget { .. } => "management.set-default-hand-off-target",
            O::GetDefaultHandOffTarget { .. } => "management.get-default-hand-off-target",
            O::PutSecret { .. } => "management.put-secret",
            O::ListSecrets => "management.list-secrets",
            O::DeleteSecret { .. } => "management.delete-secret",
            O::PutResourceType(_) => "management.put-resource-type",
            O::GetResourceType { .. } => "management.get-resource-type",
            O::ListResourceTypes => "management.list-resource-types",
            O::DeleteResourceType { .. } => "management.delete-resource-type",
            O::IpAddresses => "management.ip-addresses",
        }
    }

    /// Reads a 2xx answer as this operation's result, or any other as an [`ApiError`].
    pub fn parse(&self, response: &HttpResponse) -> Result<Output> {
        parse_output(self.name(), response)
    }
}

/// Reads the answer to the operation called `name` (see [`OPERATION_NAMES`]).
pub fn parse_output(name: &str, response: &HttpResponse) -> Result<Output> {
    if !response.is_success() {
        return Err(Error::Api(api_error(response)));
    }
    Ok(match name {
        "conversations.start" | "conversations.read" | "conversations.read-legacy" => {
            Output::Conversation(decode(response)?)
        }
        "conversations.add-message" => Output::Message(decode(response)?),
        "management.list-hand-off-targets" => {
            #[derive(Deserialize)]
            struct Targets {
                #[serde(default)]
                targets: Vec<HandOffTarget>,
            }
            Output::HandOffTargets(decode::<Targets>(response)?.targets)
        }
        "management.get-default-hand-off-target" => {
            if response.body.iter().all(u8::is_ascii_whitespace) {
                Output::DefaultHandOffTarget(None)
            } else {
                let v: Value = decode(response)?;
                let id = ["id", "hand_off_target_id", "target_id"]
                    .iter()
                    .find_map(|k| v.get(*k).and_then(Value::as_str))
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned);
                Output::DefaultHandOffTarget(id)
            }
        }
        "management.list-secrets" => {
            #[derive(Deserialize)]
            struct Secrets {
                #[serde(default)]
                secrets: Vec<SecretInfo>,
            }
            Output::Secrets(decode::<Secrets>(response)?.secrets)
        }
        "management.get-resource-type" => Output::ResourceType(decode(response)?),
        "management.list-resource-types" => {
            #[derive(Deserialize)]
            struct Types {
                #[serde(default)]
                resource_types: Vec<ResourceType>,
            }
            Output::ResourceTypes(decode::<Types>(response)?.resource_types)
        }
        "management.ip-addresses" => Output::IpAddresses(decode(response)?),
        _ => Output::Nothing,
    })
}

fn check_resource_size(document: &Value) -> Result<()> {
    let size = serde_json::to_vec(document)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if size >= validate::MAX_RESOURCE_BYTES {
        return Err(Error::invalid(
            "document",
            format!("is {size} bytes; resources must be smaller than 1 MB"),
        ));
    }
    Ok(())
}

fn decode<T: DeserializeOwned>(response: &HttpResponse) -> Result<T> {
    serde_json::from_slice(&response.body).map_err(|e| {
        Error::response(format!(
            "status {} body could not be read: {e}",
            response.status
        ))
    })
}

/// The error code the API would use for a status, when its body has none.
pub fn code_for_status(status: u16) -> &'static str {
    match status {
        400 => "invalid_argument",
        401 => "unauthenticated",
        403 => "permission_denied",
        404 => "not_found",
        409 => "already_exists",
        412 => "failed_precondition",
        429 => "resource_exhausted",
        499 => "aborted",
        501 => "unimplemented",
        502 | 503 => "unavailable",
        504 => "deadline_exceeded",
        500..=599 => "internal",
        _ => "unknown",
    }
}

/// Reads an error answer: `{"code", "message", "details": {"trace_id"}}`,
/// tolerating bodies that are not JSON.
pub fn api_error(response: &HttpResponse) -> ApiError {
    #[derive(Deserialize, Default)]
    struct Details {
        #[serde(default)]
        trace_id: Option<String>,
    }
    #[derive(Deserialize)]
    struct Body {
        #[serde(default)]
        code: Option<String>,
        #[serde(default)]
        message: Option<String>,
        #[serde(default)]
        details: Option<Details>,
    }
    let parsed: Option<Body> = serde_json::from_slice(&response.body).ok();
    let (code, message, trace_id) = match parsed {
        Some(b) => (b.code, b.message, b.details.and_then(|d| d.trace_id)),
        None => (None, None, None),
    };
    let message = message.unwrap_or_else(|| {
        let text = String::from_utf8_lossy(&response.body);
        let text = text.trim();
        if text.is_empty() {
            format!("HTTP {}", response.status)
        } else {
            text.chars().take(200).collect()
        }
    });
    ApiError {
        status: response.status,
        code: code
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| code_for_status(response.status).to_owned()),
        message,
        trace_id: trace_id.filter(|t| !t.is_empty()),
    }
}
