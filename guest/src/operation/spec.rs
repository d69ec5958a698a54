//! What an operation is, declared once: name, role, method, path, query and
//! body fields, and the shape of its answer. Everything else — building the
//! request, checking parameters, reading the answer, `glbridge api --help` —
//! is derived from a [`Spec`] (the table is in `table.rs`).
//!
//! Parameters are written in a small notation, one word per field:
//! `name` (optional string), `name!` (required), `name:i` (integer), `:n`
//! (number), `:b` (boolean), `:o` (object), `:a` (array), `:j` (any JSON),
//! and `name=a|b|c` (one of these strings); `!` may also follow the type
//! (`value:i!`, `status=draft|live!`).

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::http::{HttpResponse, Method};

/// The API key an operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The Integration key (conversations, outbound, back-office tasks).
    Integration,
    /// The Management key (procedures, tools, hand-off targets, …).
    Management,
    /// Either key (the official clients disagree, e.g. articles and topics).
    Either,
}

/// How an answer is read.
#[derive(Clone, Copy)]
pub enum Reply {
    /// Nothing (`null`), whatever the body holds.
    Nothing,
    /// The JSON object as sent (`null` for an empty body). When `unwrap`
    /// names a key and the object is `{key: {...}}`, the inner object.
    Object {
        /// An envelope some clients expect, e.g. `procedure`.
        unwrap: Option<&'static str>,
    },
    /// A list: `{key: [...]}`, `{Key: [...]}` (another client's casing) or a
    /// bare array, answered as the array.
    List {
        /// The envelope's key, e.g. `tools`.
        key: &'static str,
    },
    /// One page of a list with a cursor: answered as `{key: [...], next}`
    /// (`next` = the cursor of the next page, or `null` on the last).
    Page {
        /// The envelope's key, e.g. `procedures`.
        key: &'static str,
    },
    /// Read by the operation's own function (typed models).
    Custom(fn(&HttpResponse) -> Result<Value>),
}

/// A rule across an operation's parameters (all of them, path ones too).
pub type Rule = fn(&Map<String, Value>) -> Result<()>;

/// One API operation.
pub struct Spec {
    /// e.g. `procedures.list`.
    pub name: &'static str,
    /// One line for `glbridge operations` and `--help`.
    pub summary: &'static str,
    /// The key it needs.
    pub role: Role,
    /// HTTP method.
    pub method: Method,
    /// Path below the base URL; `{x}` is the parameter `x`, percent-encoded.
    pub path: &'static str,
    /// Query parameters, in the notation above.
    pub query: &'static str,
    /// Body fields, in the notation above; `""` = no body; `"=doc"` = the
    /// parameter `doc` is the whole body.
    pub body: &'static str,
    /// Typed check and normalisation of the body object (model types).
    pub typed: Option<fn(Value) -> Result<Value>>,
    /// Further rules across fields.
    pub check: Option<Rule>,
    /// How its answer is read.
    pub reply: Reply,
    /// Sending it twice is harmless only when this field is given (e.g.
    /// `idempotency_key`); `None` = always harmless.
    pub idempotent_with: Option<&'static str>,
}

/// A field's JSON kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string.
    String,
    /// An integer.
    Integer,
    /// Any number.
    Number,
    /// `true` or `false`.
    Bool,
    /// A JSON object.
    Object,
    /// A JSON array.
    Array,
    /// Any JSON value.
    Any,
    /// One of the listed strings.
    OneOf(&'static str),
}

impl Kind {
    fn describe(self) -> String {
        match self {
            Kind::String => "string".into(),
            Kind::Integer => "integer".into(),
            Kind::Number => "number".into(),
            Kind::Bool => "boolean".into(),
            Kind::Object => "object".into(),
            Kind::Array => "array".into(),
            Kind::Any => "JSON".into(),
            Kind::OneOf(values) => values.replace('|', " | "),
        }
    }
}

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Place {
    /// A path segment.
    Path,
    /// The query string.
    Query,
    /// The JSON body.
    Body,
}

/// One parameter of an operation.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// Its name on the wire.
    pub name: &'static str,
    /// Where it goes.
    pub place: Place,
    /// Whether it must be given.
    pub required: bool,
    /// Its JSON kind.
    pub kind: Kind,
}

fn parse_word(word: &'static str, place: Place) -> Field {
    // `!` marks a required field, after its name or after its type.
    let (word, required_after) = match word.strip_suffix('!') {
        Some(w) => (w, true),
        None => (word, false),
    };
    let (head, kind) = match word.split_once('=') {
        Some((head, values)) => (head, Kind::OneOf(values)),
        None => match word.split_once(':') {
            Some((head, tag)) => (
                head,
                match tag {
                    "i" => Kind::Integer,
                    "n" => Kind::Number,
                    "b" => Kind::Bool,
                    "o" => Kind::Object,
                    "a" => Kind::Array,
                    "j" => Kind::Any,
                    _ => Kind::String,
                },
            ),
            None => (word, Kind::String),
        },
    };
    let (name, required) = match head.strip_suffix('!') {
        Some(name) => (name, true),
        None => (head, required_after),
    };
    Field {
        name,
        place,
        required,
        kind,
    }
}

impl Spec {
    /// The path parameters, in order.
    pub fn path_params(&self) -> impl Iterator<Item = &'static str> {
        self.path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
    }

    /// The parameter the whole body is, if any (`"=doc"`).
    pub fn raw_body(&self) -> Option<&'static str> {
        self.body.strip_prefix('=')
    }

    /// Every parameter: path, query, then body fields.
    pub fn fields(&self) -> Vec<Field> {
        let mut out: Vec<Field> = self
            .path_params()
            .map(|name| Field {
                name,
                place: Place::Path,
                required: true,
                kind: path_kind(name),
            })
            .collect();
        out.extend(
            self.query
                .split_whitespace()
                .map(|w| parse_word(w, Place::Query)),
        );
        match self.raw_body() {
            Some(name) => out.push(Field {
                name,
                place: Place::Body,
                required: true,
                kind: Kind::Any,
            }),
            None => {
                for w in self.body.split_whitespace() {
                    let f = parse_word(w, Place::Body);
                    // A field both in the path and in the body (tools.execute
                    // sends its id twice) is listed once, as a path parameter.
                    if !out.iter().any(|o| o.name == f.name) {
                        out.push(f);
                    }
                }
            }
        }
        out
    }

    /// Whether a field is sent in the body (also when it is in the path).
    pub fn in_body(&self, name: &str) -> bool {
        self.raw_body().is_none()
            && self
                .body
                .split_whitespace()
                .any(|w| parse_word(w, Place::Body).name == name)
    }

    /// The operation described as JSON, for `protocol.describe`.
    pub fn describe(&self) -> Value {
        let fields: Vec<Value> = self
            .fields()
            .iter()
            .map(|f| {
                serde_json::json!({
                    "name": f.name,
                    "in": f.place,
                    "required": f.required,
                    "type": f.kind.describe(),
                })
            })
            .collect();
        serde_json::json!({
            "name": self.name,
            "summary": self.summary,
            "role": self.role,
            "method": self.method.as_str(),
            "path": self.path,
            "params": fields,
            "paginated": matches!(self.reply, Reply::Page { .. }),
        })
    }
}

/// What a path parameter must look like, by its name.
fn path_kind(name: &str) -> Kind {
    match name {
        "version" => Kind::Integer,
        _ => Kind::String,
    }
}

/// Checks a value against its field's kind.
pub fn check_kind(field: &Field, value: &Value) -> Result<()> {
    let ok = match field.kind {
        Kind::String => value.is_string(),
        Kind::Integer => value.is_i64() || value.is_u64(),
        Kind::Number => value.is_number(),
        Kind::Bool => value.is_boolean(),
        Kind::Object => value.is_object(),
        Kind::Array => value.is_array(),
        Kind::Any => true,
        Kind::OneOf(values) => value
            .as_str()
            .is_some_and(|s| values.split('|').any(|v| v == s)),
    };
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            field.name,
            format!("must be {}", article(&field.kind.describe(), field.kind)),
        ))
    }
}

fn article(_kind: &str, k: Kind) -> String {
    match k {
        Kind::String => "a string".into(),
        Kind::Integer => "an integer".into(),
        Kind::Number => "a number".into(),
        Kind::Bool => "a boolean".into(),
        Kind::Object => "an object".into(),
        Kind::Array => "an array".into(),
        Kind::Any => "JSON".into(),
        Kind::OneOf(values) => format!("one of {}", values.replace('|', ", ")),
    }
}

/// A path or query value as text: strings as they are, numbers and booleans
/// written out.
pub fn scalar_text(field: &str, value: &Value) -> Result<String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(Error::invalid(field, "must be a string or a number")),
    }
}
