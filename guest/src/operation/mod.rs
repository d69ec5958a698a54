//! Every API operation: its name, its request, and how its answer is read.
//!
//! Each operation is declared once, in the table of `table.rs` (the notation
//! is in `spec.rs`); building its request, checking its parameters, reading
//! its answer and describing it for `--help` are derived from that. The
//! client (which sends), the pure `protocol` interface (which lets a host
//! send), the typed WIT interfaces and the CLI all go through here.

mod checks;
pub mod spec;
mod table;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::http::{HttpRequest, HttpResponse};
use crate::validate;

pub use checks::{
    check_resource_size, e164, read, read_default_target, read_hand_off_targets,
    read_resource_types, read_secrets, Check,
};
pub use spec::{Place, Reply, Role, Spec};
pub use table::{find, ADD_MESSAGE, ASSIGN, FINISH, PUSH_RESOURCE, RESUME, SPECS, START};

/// Path segments keep only RFC 3986 unreserved characters.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The names of every operation, in the table's order.
pub fn names() -> impl Iterator<Item = &'static str> {
    SPECS.iter().map(|s| s.name)
}

/// What an operation answers: JSON (`null` for nothing).
pub type Output = Value;

/// One API call: the operation and its parameters (path, query and body
/// fields by their wire names, in one JSON object).
#[derive(Clone)]
pub struct Operation {
    spec: &'static Spec,
    params: Map<String, Value>,
    /// Why typed parameters could not be written as JSON, if they could not.
    unwritable: Option<String>,
}

impl PartialEq for Operation {
    fn eq(&self, other: &Self) -> bool {
        self.spec.name == other.spec.name && self.params == other.params
    }
}

/// Shows the operation and the names of its parameters, never their values
/// (a secret's `value` is one).
impl std::fmt::Debug for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operation")
            .field("name", &self.spec.name)
            .field("params", &self.params.keys().collect::<Vec<_>>())
            .finish()
    }
}

fn unknown_operation(name: &str) -> Error {
    Error::invalid(
        "operation",
        format!(
            "unknown operation {name:?}; expected one of: {}",
            names().collect::<Vec<_>>().join(", ")
        ),
    )
}

impl Operation {
    /// `spec` with path parameters `path` and a typed body (an object of
    /// body fields, or for `=doc` operations the document itself).
    pub fn new(spec: &'static Spec, path: &[(&str, &str)], body: &impl Serialize) -> Self {
        let mut params = Map::new();
        let mut unwritable = None;
        match (serde_json::to_value(body), spec.raw_body()) {
            (Ok(value), Some(field)) => {
                params.insert(field.to_owned(), value);
            }
            (Ok(Value::Object(map)), None) => params = map,
            (Ok(Value::Null), None) => {}
            (Ok(_), None) => unwritable = Some("the body must be a JSON object".to_owned()),
            (Err(e), _) => unwritable = Some(e.to_string()),
        }
        for (name, value) in path {
            params.insert((*name).to_owned(), Value::String((*value).to_owned()));
        }
        Operation {
            spec,
            params,
            unwritable,
        }
    }

    /// [`Operation::new`] for the operation called `name`.
    pub fn named(name: &str, path: &[(&str, &str)], body: &impl Serialize) -> Result<Self> {
        let spec = find(name).ok_or_else(|| unknown_operation(name))?;
        Ok(Self::new(spec, path, body))
    }

    /// Builds an operation from its name and its parameters as JSON (wire
    /// field names plus path parameters such as `conversation_id`).
    pub fn from_json(name: &str, params: Value) -> Result<Self> {
        let spec = find(name).ok_or_else(|| unknown_operation(name))?;
        let params = match params {
            Value::Object(map) => map,
            Value::Null => Map::new(),
            other => {
                return Err(Error::invalid(
                    "params",
                    format!("must be a JSON object, not {}", json_kind(&other)),
                ))
            }
        };
        Ok(Operation {
            spec,
            params,
            unwritable: None,
        })
    }

    /// What it is.
    pub fn spec(&self) -> &'static Spec {
        self.spec
    }

    /// The operation's name, as [`Operation::from_json`] takes it.
    pub fn name(&self) -> &'static str {
        self.spec.name
    }

    /// Its parameters, as [`Operation::from_json`] takes them.
    pub fn params(&self) -> &Map<String, Value> {
        &self.params
    }

    /// Its parameters as one JSON object.
    pub fn params_json(&self) -> Value {
        Value::Object(self.params.clone())
    }

    /// A text parameter (a path parameter such as `conversation_id`).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).and_then(Value::as_str)
    }

    /// The body fields read as `T` (e.g. [`crate::model::conversations::MessageParams`]).
    pub fn body_as<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_value(self.body_value()?).map_err(|e| validate::serde_error(&e))
    }

    /// Whether sending it twice is harmless. Everything is idempotent but an
    /// event without an idempotency key.
    pub fn is_idempotent(&self) -> bool {
        match self.spec.idempotent_with {
            Some(field) => self.params.get(field).is_some_and(|v| !v.is_null()),
            None => true,
        }
    }

    /// The body as the parameters give it (before typed normalisation).
    fn body_value(&self) -> Result<Value> {
        if let Some(field) = self.spec.raw_body() {
            return Ok(self.params.get(field).cloned().unwrap_or(Value::Null));
        }
        let mut body = Map::new();
        for (k, v) in &self.params {
            if self.spec.in_body(k) {
                body.insert(k.clone(), v.clone());
            }
        }
        Ok(Value::Object(body))
    }

    /// Checks the parameters: known names, required fields, JSON kinds,
    /// ids in the path, and the operation's own rules. Answers the body to
    /// send, if any.
    fn checked_body(&self) -> Result<Option<Value>> {
        if let Some(why) = &self.unwritable {
            return Err(Error::invalid("params", why.clone()));
        }
        let fields = self.spec.fields();
        for key in self.params.keys() {
            if !fields.iter().any(|f| f.name == key.as_str()) {
                let known: Vec<&str> = fields.iter().map(|f| f.name).collect();
                return Err(Error::invalid(
                    key.clone(),
                    format!(
                        "is not a parameter of {}; it takes: {}",
                        self.spec.name,
                        if known.is_empty() {
                            "none".to_owned()
                        } else {
                            known.join(", ")
                        }
                    ),
                ));
            }
        }
        for field in &fields {
            match self.params.get(field.name) {
                None | Some(Value::Null) if field.required => {
                    return Err(Error::invalid(field.name, "is required"))
                }
                None | Some(Value::Null) => {}
                Some(value) => {
                    if field.place == Place::Path {
                        check_path_param(field.name, value)?;
                    } else {
                        spec::check_kind(field, value)?;
                    }
                }
            }
        }
        if let Some(check) = self.spec.check {
            check(&self.params)?;
        }
        if self.spec.raw_body().is_none() && self.spec.body.is_empty() {
            return Ok(None);
        }
        let body = self.body_value()?;
        Ok(Some(match self.spec.typed {
            Some(typed) => typed(body)?,
            None => body,
        }))
    }

    /// Checks the parameters (see [`Operation::build`]) without building.
    pub fn validate(&self) -> Result<()> {
        self.checked_body().map(|_| ())
    }

    /// Validates and builds the exact request the client sends.
    pub fn build(&self, config: &Config) -> Result<HttpRequest> {
        let body = self.checked_body()?;
        let mut url = config.base_url.trim_end_matches('/').to_owned();
        for segment in self.spec.path.split('/') {
            url.push('/');
            match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => {
                    let value = self.params.get(name).unwrap_or(&Value::Null);
                    url.extend(utf8_percent_encode(
                        &spec::scalar_text(name, value)?,
                        SEGMENT,
                    ));
                }
                None => url.push_str(segment),
            }
        }
        let mut first = true;
        for field in self
            .spec
            .fields()
            .iter()
            .filter(|f| f.place == Place::Query)
        {
            let Some(value) = self.params.get(field.name).filter(|v| !v.is_null()) else {
                continue;
            };
            url.push(if first { '?' } else { '&' });
            first = false;
            url.extend(utf8_percent_encode(field.name, SEGMENT));
            url.push('=');
            url.extend(utf8_percent_encode(
                &spec::scalar_text(field.name, value)?,
                SEGMENT,
            ));
        }
        let mut headers = vec![
            (
                "Authorization".to_owned(),
                format!("Bearer {}", config.api_key.expose()),
            ),
            ("Accept".to_owned(), "application/json".to_owned()),
            ("User-Agent".to_owned(), config.user_agent()),
        ];
        let body = match body {
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
            method: self.spec.method,
            url,
            headers,
            body,
            timeout_ms: config.timeout_ms,
        })
    }

    /// Reads a 2xx answer as this operation's result, or any other as an [`ApiError`].
    pub fn parse(&self, response: &HttpResponse) -> Result<Output> {
        parse_reply(self.spec, response)
    }

    /// For a paginated list: the same operation for the page after `answer`
    /// (what [`Operation::parse`] gave), if there is one.
    pub fn next_page(&self, answer: &Value) -> Option<Operation> {
        if !matches!(self.spec.reply, Reply::Page { .. }) {
            return None;
        }
        let cursor = answer.get("next").and_then(Value::as_str)?;
        let mut next = self.clone();
        next.params
            .insert("cursor".into(), Value::String(cursor.to_owned()));
        Some(next)
    }
}

/// A path parameter: an id, except `version` (a positive integer) and
/// `phone` (E.164).
fn check_path_param(name: &str, value: &Value) -> Result<()> {
    let text = spec::scalar_text(name, value)?;
    match name {
        "version" => match text.parse::<u64>() {
            Ok(n) if n > 0 => Ok(()),
            _ => Err(Error::invalid(name, "must be a positive integer")),
        },
        "phone" => e164(name, &text),
        _ => validate::id(name, &text),
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

/// Reads the answer to the operation called `name` (see [`names`]).
pub fn parse_output(name: &str, response: &HttpResponse) -> Result<Output> {
    parse_reply(find(name).ok_or_else(|| unknown_operation(name))?, response)
}

fn body_json(response: &HttpResponse) -> Result<Option<Value>> {
    if response.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(&response.body)
        .map(Some)
        .map_err(|e| {
            Error::response(format!(
                "status {} body could not be read: {e}",
                response.status
            ))
        })
}

/// `key`, or the same key in another client's casing (`Topics`,
/// `ResourceSources`).
pub(crate) fn enveloped<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.get(key).or_else(|| v.get(pascal_case(key).as_str()))
}

/// `resource_sources` → `ResourceSources`: the casing the Node client reads.
fn pascal_case(key: &str) -> String {
    key.split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn list_items(v: Option<Value>, key: &str) -> Result<Vec<Value>> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(items),
        Some(obj @ Value::Object(_)) => match enveloped(&obj, key) {
            Some(Value::Array(items)) => Ok(items.clone()),
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(_) => Err(Error::response(format!("`{key}` is not a list"))),
        },
        Some(_) => Err(Error::response(format!(
            "expected a list of {key} or an object holding one"
        ))),
    }
}

fn parse_reply(spec: &Spec, response: &HttpResponse) -> Result<Output> {
    if !response.is_success() {
        return Err(Error::Api(api_error(response)));
    }
    match spec.reply {
        Reply::Nothing => Ok(Value::Null),
        Reply::Object { unwrap } => {
            let v = body_json(response)?.unwrap_or(Value::Null);
            Ok(match unwrap.and_then(|key| enveloped(&v, key)) {
                Some(inner @ Value::Object(_)) => inner.clone(),
                _ => v,
            })
        }
        Reply::List { key } => Ok(Value::Array(list_items(body_json(response)?, key)?)),
        Reply::Page { key } => {
            let v = body_json(response)?;
            let next = v
                .as_ref()
                .and_then(|v| enveloped(v, "pagination"))
                .and_then(|p| enveloped(p, "next"))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_owned()))
                .unwrap_or(Value::Null);
            let mut out = Map::new();
            out.insert(key.to_owned(), Value::Array(list_items(v, key)?));
            out.insert("next".to_owned(), next);
            Ok(Value::Object(out))
        }
        Reply::Custom(read) => read(response),
    }
}

pub use crate::error::{api_error, code_for_status};

/// The operations the bridges send, typed.
impl Operation {
    /// `conversations.start`.
    pub fn start(params: &crate::model::conversations::StartParams) -> Self {
        Self::new(&START, &[], params)
    }

    /// `conversations.add-message`.
    pub fn add_message(
        conversation_id: &str,
        params: &crate::model::conversations::MessageParams,
    ) -> Self {
        Self::new(
            &ADD_MESSAGE,
            &[("conversation_id", conversation_id)],
            params,
        )
    }

    /// `conversations.assign`.
    pub fn assign(
        conversation_id: &str,
        params: &crate::model::conversations::AssignParams,
    ) -> Self {
        Self::new(&ASSIGN, &[("conversation_id", conversation_id)], params)
    }

    /// `conversations.resume`.
    pub fn resume(
        conversation_id: &str,
        params: &crate::model::conversations::AssignParams,
    ) -> Self {
        Self::new(&RESUME, &[("conversation_id", conversation_id)], params)
    }

    /// `conversations.finish`.
    pub fn finish(
        conversation_id: &str,
        params: &crate::model::conversations::FinishParams,
    ) -> Self {
        Self::new(&FINISH, &[("conversation_id", conversation_id)], params)
    }

    /// `conversations.push-resource`.
    pub fn push_resource(conversation_id: &str, name: &str, document: &Value) -> Self {
        Self::new(
            &PUSH_RESOURCE,
            &[("conversation_id", conversation_id), ("name", name)],
            document,
        )
    }
}
