//! What a host call can fail with.

use glbridge_guest::webhook::WebhookError;

use crate::bindings::{types, webhooks};

/// A host-level error: the component's own typed errors, or what went wrong
/// around it (a trap, a component that could not load).
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The operation failed; the component's typed error.
    #[error(transparent)]
    Api(#[from] glbridge_guest::Error),
    /// A webhook was refused.
    #[error(transparent)]
    Webhook(#[from] WebhookError),
    /// The component trapped (or ran past its time or memory limit). The
    /// instance was discarded; the next call gets a fresh one.
    #[error("the component trapped: {0} (the next call gets a fresh instance)")]
    Trap(String),
    /// The component could not be compiled, linked or instantiated.
    #[error("loading the component: {0}")]
    Load(String),
    /// A client or Gleap call before `open_client` / `open_gleap`.
    #[error(
        "nothing is configured for this call in this session; call open_client or open_gleap first"
    )]
    NoClient,
    /// The component answered something the host could not read.
    #[error("unreadable answer from the component: {0}")]
    Protocol(String),
}

impl From<types::Error> for glbridge_guest::Error {
    fn from(e: types::Error) -> Self {
        use glbridge_guest::Error as E;
        match e {
            types::Error::InvalidArgument(a) => E::InvalidArgument {
                field: a.field,
                reason: a.reason,
            },
            types::Error::Api(a) => E::Api(glbridge_guest::ApiError {
                status: a.status,
                code: a.code,
                message: a.message,
                trace_id: a.trace_id,
            }),
            types::Error::Transport(message) => E::Transport { message },
            types::Error::InvalidResponse(message) => E::InvalidResponse { message },
            types::Error::Store(message) => E::Store { message },
        }
    }
}

impl From<types::Error> for HostError {
    fn from(e: types::Error) -> Self {
        HostError::Api(e.into())
    }
}

impl From<webhooks::WebhookError> for HostError {
    fn from(e: webhooks::WebhookError) -> Self {
        HostError::Webhook(match e {
            webhooks::WebhookError::MalformedHeader(m) => WebhookError::MalformedHeader(m),
            webhooks::WebhookError::SignatureMismatch => WebhookError::SignatureMismatch,
            webhooks::WebhookError::TimestampOutOfRange(s) => WebhookError::TimestampOutOfRange(s),
            webhooks::WebhookError::InvalidEnvelope(m) => WebhookError::InvalidEnvelope(m),
        })
    }
}
