//! The rules of single operations that the notation of `spec.rs` cannot say:
//! typed bodies (the model types, checked and written back out as the API
//! expects them), rules across fields, and typed answers.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::http::HttpResponse;
use crate::model::conversations::*;
use crate::model::knowledge::*;
use crate::model::management::*;
use crate::model::ParticipantType;
use crate::validate;

/// A model type's own rules, checked before anything is sent (and by the
/// sandbox on what it receives).
pub trait Check {
    /// `Ok` if the API would take it.
    fn check(&self) -> Result<()>;
}

/// Reads `body` as `T`, checks it, and writes it back out as the API wants it.
fn typed<T: DeserializeOwned + Serialize + Check>(body: Value) -> Result<Value> {
    let value: T = serde_json::from_value(body).map_err(|e| validate::serde_error(&e))?;
    value.check()?;
    serde_json::to_value(&value).map_err(|e| Error::invalid("params", e.to_string()))
}

pub(super) fn typed_start(b: Value) -> Result<Value> {
    typed::<StartParams>(b)
}
pub(super) fn typed_message(b: Value) -> Result<Value> {
    typed::<MessageParams>(b)
}
pub(super) fn typed_event(b: Value) -> Result<Value> {
    typed::<EventParams>(b)
}
pub(super) fn typed_assign(b: Value) -> Result<Value> {
    typed::<AssignParams>(b)
}
pub(super) fn typed_finish(b: Value) -> Result<Value> {
    typed::<FinishParams>(b)
}
pub(super) fn typed_end(b: Value) -> Result<Value> {
    typed::<EndParams>(b)
}
pub(super) fn typed_cancel(b: Value) -> Result<Value> {
    typed::<CancelParams>(b)
}
pub(super) fn typed_resume(b: Value) -> Result<Value> {
    typed::<ResumeParams>(b)
}
pub(super) fn typed_rating(b: Value) -> Result<Value> {
    typed::<RatingParams>(b)
}
pub(super) fn typed_article(b: Value) -> Result<Value> {
    typed::<Article>(b)
}
pub(super) fn typed_topic(b: Value) -> Result<Value> {
    typed::<Topic>(b)
}
pub(super) fn typed_resource_type(b: Value) -> Result<Value> {
    typed::<ResourceType>(b)
}

fn check_resources(resources: &Option<Value>) -> Result<()> {
    let Some(resources) = resources else {
        return Ok(());
    };
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
    Ok(())
}

/// A resource document must be smaller than 1 MB.
pub fn check_resource_size(document: &Value) -> Result<()> {
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

impl Check for StartParams {
    fn check(&self) -> Result<()> {
        validate::id("id", &self.id)?;
        validate::required("customer_id", &self.customer_id)?;
        check_resources(&self.resources)
    }
}

impl Check for MessageParams {
    fn check(&self) -> Result<()> {
        validate::id("id", &self.id)?;
        validate::required("participant_id", &self.participant_id)?;
        if self.participant_type == ParticipantType::AiAgent {
            return Err(Error::invalid(
                "participant_type",
                "must be Customer, Agent or Bot (the AI agent's messages come from the API)",
            ));
        }
        if self.body.trim().is_empty() && self.attachments.is_empty() {
            return Err(Error::invalid(
                "body",
                "is required when there are no attachments",
            ));
        }
        for a in &self.attachments {
            validate::required("attachments.file_name", &a.file_name)?;
        }
        Ok(())
    }
}

impl Check for EventParams {
    fn check(&self) -> Result<()> {
        validate::required("participant_id", &self.participant_id)?;
        if let Some(id) = &self.message_id {
            validate::id("message_id", id)?;
        }
        Ok(())
    }
}

impl Check for AssignParams {
    fn check(&self) -> Result<()> {
        Ok(())
    }
}

impl Check for ResumeParams {
    fn check(&self) -> Result<()> {
        check_resources(&self.resources)
    }
}

impl Check for FinishParams {
    fn check(&self) -> Result<()> {
        Ok(())
    }
}

impl Check for EndParams {
    fn check(&self) -> Result<()> {
        Ok(())
    }
}

impl Check for CancelParams {
    fn check(&self) -> Result<()> {
        Ok(())
    }
}

impl Check for RatingParams {
    fn check(&self) -> Result<()> {
        validate::required("type", &self.kind)?;
        if self.min_value > self.max_value {
            return Err(Error::invalid("min_value", "must not exceed max_value"));
        }
        if self.value < self.min_value || self.value > self.max_value {
            return Err(Error::invalid(
                "value",
                "must lie between min_value and max_value",
            ));
        }
        Ok(())
    }
}

impl Check for Article {
    fn check(&self) -> Result<()> {
        validate::id("id", &self.id)?;
        if let Some(topic) = &self.topic_id {
            validate::id("topic_id", topic)?;
        }
        validate::required("body", &self.body)
    }
}

impl Check for Topic {
    fn check(&self) -> Result<()> {
        validate::id("id", &self.id)?;
        if let Some(parent) = &self.parent_id {
            validate::id("parent_id", parent)?;
        }
        validate::required("name", &self.name)
    }
}

impl Check for HandOffTarget {
    fn check(&self) -> Result<()> {
        validate::id("id", &self.id)?;
        validate::required("name", &self.name)
    }
}

impl Check for ResourceType {
    fn check(&self) -> Result<()> {
        if !self.name.is_empty() {
            validate::id("name", &self.name)?;
        }
        match (&self.mode, &self.pull_config) {
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
}

// ------------------------------------------------------------ rules across fields

fn text<'a>(p: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    p.get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

pub(super) fn resource_document(p: &Map<String, Value>) -> Result<()> {
    check_resource_size(p.get("document").unwrap_or(&Value::Null))
}

pub(super) fn non_empty_memories(p: &Map<String, Value>) -> Result<()> {
    match p.get("memories").and_then(Value::as_array) {
        Some(list) if !list.is_empty() => Ok(()),
        _ => Err(Error::invalid("memories", "must not be empty")),
    }
}

pub(super) fn subject_with_body(p: &Map<String, Value>) -> Result<()> {
    match (text(p, "subject"), text(p, "body")) {
        (Some(_), None) => Err(Error::invalid("body", "is required with a subject")),
        (None, Some(_)) => Err(Error::invalid("subject", "is required with a body")),
        _ => Ok(()),
    }
}

/// An E.164 number: `+`, then 2 to 15 digits.
pub fn e164(field: &str, value: &str) -> Result<()> {
    let digits = value.strip_prefix('+').unwrap_or("");
    if (2..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            "must be an E.164 number: + and 2 to 15 digits",
        ))
    }
}

pub(super) fn phone_numbers(p: &Map<String, Value>) -> Result<()> {
    for field in ["to_phone_number", "from_phone_number"] {
        e164(field, text(p, field).unwrap_or(""))?;
    }
    Ok(())
}

pub(super) fn lookback(p: &Map<String, Value>) -> Result<()> {
    e164("phone", text(p, "phone").unwrap_or(""))?;
    match p.get("lookback_seconds").and_then(Value::as_i64) {
        Some(n) if n < 5 => Err(Error::invalid("lookback_seconds", "must be at least 5")),
        _ => Ok(()),
    }
}

pub(super) fn tool_definition(p: &Map<String, Value>) -> Result<()> {
    for (i, param) in p
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        if param
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .is_empty()
        {
            return Err(Error::invalid(
                format!("parameters[{i}].name"),
                "is required",
            ));
        }
    }
    // A tool runs as a webhook or over HTTP, not both. `mock` (a flag in the
    // official clients, a canned answer in the sandbox) may stand beside
    // either: a mocked tool keeps its definition until it is made real. An
    // update may give none of them and leave the tool's kind as it is.
    let given = |k: &str| p.get(k).is_some_and(|v| !v.is_null());
    if given("webhook") && given("http") {
        return Err(Error::invalid("webhook", "give one of webhook and http"));
    }
    if let Some(http) = p.get("http").filter(|v| !v.is_null()) {
        for field in ["method", "url_template"] {
            if http
                .get(field)
                .and_then(Value::as_str)
                .unwrap_or("")
                .is_empty()
            {
                return Err(Error::invalid(format!("http.{field}"), "is required"));
            }
        }
    }
    Ok(())
}

pub(super) fn tool_arguments(p: &Map<String, Value>) -> Result<()> {
    #[derive(Deserialize)]
    struct Argument {
        name: String,
        #[allow(dead_code)]
        value: String,
    }
    let arguments = p.get("arguments").cloned().unwrap_or(Value::Null);
    let list: Vec<Argument> = serde_json::from_value(arguments).map_err(|e| {
        Error::invalid(
            "arguments",
            format!("must be a list of {{name, value}} strings: {e}"),
        )
    })?;
    if list.iter().any(|a| a.name.is_empty()) {
        return Err(Error::invalid("arguments.name", "is required"));
    }
    Ok(())
}

pub(super) fn note_content(p: &Map<String, Value>) -> Result<()> {
    if let Some(id) = text(p, "id") {
        validate::id("id", id)?;
    }
    match (text(p, "body"), text(p, "webpage_url")) {
        (Some(_), Some(_)) => Err(Error::invalid(
            "webpage_url",
            "give either body or webpage_url, not both",
        )),
        (None, None) => Err(Error::invalid("body", "give either body or webpage_url")),
        (None, Some(url)) if !(url.starts_with("https://") || url.starts_with("http://")) => {
            Err(Error::invalid("webpage_url", "must be an http(s) URL"))
        }
        _ => Ok(()),
    }
}

pub(super) fn secret_value(p: &Map<String, Value>) -> Result<()> {
    validate::required("value", text(p, "value").unwrap_or(""))
}

pub(super) fn new_resource_type(p: &Map<String, Value>) -> Result<()> {
    validate::required("display_name", text(p, "display_name").unwrap_or(""))?;
    for field in ["scope", "refresh_strategy"] {
        if text(p, field).is_none() {
            return Err(Error::invalid(field, "is required"));
        }
    }
    Ok(())
}

pub(super) fn new_resource_source(p: &Map<String, Value>) -> Result<()> {
    validate::required("display_name", text(p, "display_name").unwrap_or(""))?;
    match text(p, "source_type") {
        None => Err(Error::invalid("source_type", "is required")),
        Some("http") if p.get("http_config").is_none_or(Value::is_null) => Err(Error::invalid(
            "http_config",
            "is required when source_type is http",
        )),
        Some("webhook") if p.get("webhook_config").is_none_or(Value::is_null) => Err(
            Error::invalid("webhook_config", "is required when source_type is webhook"),
        ),
        _ => Ok(()),
    }
}

pub(super) fn source_type_unchanged(p: &Map<String, Value>) -> Result<()> {
    if p.contains_key("source_type") {
        return Err(Error::invalid("source_type", "cannot be changed"));
    }
    Ok(())
}

pub(super) fn substitution(p: &Map<String, Value>) -> Result<()> {
    validate::required("blocked", text(p, "blocked").unwrap_or(""))
}

// ------------------------------------------------------------ typed answers
//
// `read_*` read an answer as a model type (the typed WIT calls use them);
// the `*_reply` functions of the table write that back out as JSON.

/// The body of a 2xx answer as `T`.
pub fn read<T: DeserializeOwned>(response: &HttpResponse) -> Result<T> {
    serde_json::from_slice(&response.body).map_err(|e| {
        Error::response(format!(
            "status {} body could not be read: {e}",
            response.status
        ))
    })
}

fn encode<T: Serialize>(value: &T) -> Result<Value> {
    serde_json::to_value(value).map_err(|e| Error::response(e.to_string()))
}

pub(super) fn conversation_reply(r: &HttpResponse) -> Result<Value> {
    encode(&read::<Conversation>(r)?)
}

pub(super) fn message_reply(r: &HttpResponse) -> Result<Value> {
    encode(&read::<Message>(r)?)
}

/// `{targets: [...]}`.
pub fn read_hand_off_targets(r: &HttpResponse) -> Result<Vec<HandOffTarget>> {
    #[derive(Deserialize)]
    struct Targets {
        #[serde(default)]
        targets: Vec<HandOffTarget>,
    }
    Ok(read::<Targets>(r)?.targets)
}

pub(super) fn hand_off_targets_reply(r: &HttpResponse) -> Result<Value> {
    encode(&read_hand_off_targets(r)?)
}

/// The default target's id: `{id}` (or `hand_off_target_id`, `target_id`);
/// an empty body or id is none.
pub fn read_default_target(r: &HttpResponse) -> Result<Option<String>> {
    if r.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let v: Value = read(r)?;
    Ok(["id", "hand_off_target_id", "target_id"]
        .iter()
        .find_map(|k| v.get(*k).and_then(Value::as_str))
        .filter(|s| !s.is_empty())
        .map(str::to_owned))
}

pub(super) fn default_target_reply(r: &HttpResponse) -> Result<Value> {
    Ok(read_default_target(r)?.map_or(Value::Null, Value::String))
}

/// `{secrets: [...]}`.
pub fn read_secrets(r: &HttpResponse) -> Result<Vec<SecretInfo>> {
    #[derive(Deserialize)]
    struct Secrets {
        #[serde(default)]
        secrets: Vec<SecretInfo>,
    }
    Ok(read::<Secrets>(r)?.secrets)
}

pub(super) fn secrets_reply(r: &HttpResponse) -> Result<Value> {
    encode(&read_secrets(r)?)
}

pub(super) fn resource_type_reply(r: &HttpResponse) -> Result<Value> {
    encode(&read::<ResourceType>(r)?)
}

/// `{resource_types: [...]}`.
pub fn read_resource_types(r: &HttpResponse) -> Result<Vec<ResourceType>> {
    #[derive(Deserialize)]
    struct Types {
        #[serde(default)]
        resource_types: Vec<ResourceType>,
    }
    Ok(read::<Types>(r)?.resource_types)
}

pub(super) fn ip_addresses_reply(r: &HttpResponse) -> Result<Value> {
    encode(&read::<IpAddresses>(r)?)
}
