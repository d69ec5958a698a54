//! The pure protocol entry points: operations by name with JSON parameters
//! and JSON results, for `client.call`, the `protocol` interface and the CLI.

use serde_json::Value;

use crate::error::{Error, Result};
use crate::http::HttpResponse;
use crate::operation::{find, parse_output, Operation};

/// An operation from its name and its parameters as JSON text (empty = none).
pub fn operation(name: &str, params: &str) -> Result<Operation> {
    let params: Value = if params.trim().is_empty() {
        Value::Null
    } else {
        crate::validate::json("params", params)?
    };
    Operation::from_json(name, params)
}

/// The answer to the operation called `name`, as JSON text.
pub fn parse_response(name: &str, response: &HttpResponse) -> Result<String> {
    if find(name).is_none() {
        return Err(Error::invalid(
            "operation",
            format!("unknown operation {name:?}"),
        ));
    }
    let output = parse_output(name, response)?;
    serde_json::to_string(&output).map_err(|e| Error::response(e.to_string()))
}

/// The operation called `name` described as JSON: summary, role, method,
/// path and every parameter (where it goes, whether it is required, its
/// type), for `--help` and documentation.
pub fn describe(name: &str) -> Result<String> {
    let spec = crate::operation::find(name)
        .ok_or_else(|| Error::invalid("operation", format!("unknown operation {name:?}")))?;
    serde_json::to_string(&spec.describe()).map_err(|e| Error::response(e.to_string()))
}
