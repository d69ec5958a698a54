//! The typed errors every operation returns.

use serde::Serialize;

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
