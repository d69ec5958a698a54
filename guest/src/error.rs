//! The typed errors every operation returns.

use serde::{Deserialize, Serialize};

use crate::http::HttpResponse;

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error the API answered with: everything it said is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiError {
    /// HTTP status code.
    pub status: u16,
    /// The API's error code, or one derived from the status when the body had none.
    pub code: String,
    /// The API's message.
    pub message: String,
    /// `details.trace_id` of the error body.
    pub trace_id: Option<String>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "API error {} {}: {}",
            self.status, self.code, self.message
        )?;
        if let Some(trace) = &self.trace_id {
            write!(f, " (trace id {trace})")?;
        }
        Ok(())
    }
}

/// Everything an operation can fail with. Never carries a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Error {
    /// Bad input, rejected before anything was sent.
    #[error("invalid argument `{field}`: {reason}")]
    InvalidArgument {
        /// The field at fault, in the wire's spelling.
        field: String,
        /// Why.
        reason: String,
    },
    /// The API answered with an error.
    #[error("{0}")]
    Api(ApiError),
    /// The request got no answer.
    #[error("transport error: {message}")]
    Transport {
        /// What went wrong.
        message: String,
    },
    /// A 2xx answer whose body is not what the operation returns.
    #[error("invalid response: {message}")]
    InvalidResponse {
        /// What was wrong with it.
        message: String,
    },
    /// The store failed.
    #[error("store error: {message}")]
    Store {
        /// What went wrong.
        message: String,
    },
}

impl Error {
    /// An [`Error::InvalidArgument`].
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidArgument {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// An [`Error::InvalidResponse`].
    pub fn response(message: impl Into<String>) -> Self {
        Error::InvalidResponse {
            message: message.into(),
        }
    }
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
