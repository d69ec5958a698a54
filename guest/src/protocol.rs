//! The pure protocol entry points: operations by name with JSON parameters
//! and JSON results, for `client.call`, the `protocol` interface and the CLI.

use serde_json::Value;

use crate::error::{Error, Result};
use crate::http::HttpResponse;
use crate::operation::{parse_output, Operation, OPERATION_NAMES};

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
    if !OPERATION_NAMES.contains(&name) {
        return Err(Error::invalid(
            "operation",
            format!("unknown operation {name:?}"),
        ));
    }
    let output = parse_output(name, response)?;
    serde_json::to_string(&output).map_err(|e| Error::response(e.to_string()))
}
