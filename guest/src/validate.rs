//! Checks made before anything is sent.

use crate::error::{Error, Result};

/// Largest resource document the API takes (it must be smaller than 1 MB).
pub const MAX_RESOURCE_BYTES: usize = 1_000_000;

/// Longest id accepted.
pub const MAX_ID_LEN: usize = 256;

/// An id the API accepts: letters, digits and `_ - + = .`.
pub fn id(field: &str, value: &str) -> Result<()> {
    if value.is_empty() {
        return Err(Error::invalid(field, "is required"));
    }
    if value.len() > MAX_ID_LEN {
        return Err(Error::invalid(
            field,
            format!("is longer than {MAX_ID_LEN} bytes"),
        ));
    }
    if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+' | '=' | '.')))
    {
        return Err(Error::invalid(
            field,
            format!("contains {bad:?}; only letters, digits and _ - + = . are allowed"),
        ));
    }
    Ok(())
}

/// A required free-text field.
pub fn required(field: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        Err(Error::invalid(field, "is required"))
    } else {
        Ok(())
    }
}

/// A JSON argument given as text.
pub fn json(field: &str, text: &str) -> Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| Error::invalid(field, format!("is not valid JSON: {e}")))
}

/// Checks that `text` is one JSON value, keeping it as text.
pub fn raw_json<'a>(field: &str, text: &'a str) -> Result<&'a serde_json::value::RawValue> {
    serde_json::from_str(text).map_err(|e| Error::invalid(field, format!("is not valid JSON: {e}")))
}

/// An [`Error::InvalidArgument`] for a JSON body serde could not read,
/// naming the field when serde does ("missing field `x`").
pub fn serde_error(e: &serde_json::Error) -> Error {
    let message = e.to_string();
    let field = message
        .split('`')
        .nth(1)
        .filter(|_| message.starts_with("missing field"))
        .unwrap_or("params")
        .to_owned();
    Error::invalid(field, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_allow_the_documented_charset_only() {
        assert!(id("id", "conv_1-a+b=c.d").is_ok());
        assert_eq!(id("id", ""), Err(Error::invalid("id", "is required")));
        let err = id("message_id", "a/b").unwrap_err();
        assert!(err.to_string().contains("message_id"), "{err}");
        assert!(id("id", "é").is_err());
        assert!(id("id", &"a".repeat(MAX_ID_LEN + 1)).is_err());
    }
}
