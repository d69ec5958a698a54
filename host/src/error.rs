//! What a host call can fail with.

use glbridge_guest::webhook::WebhookError;

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
    /// A client or bridge call before `open_client` / `open_bridge`.
    #[error(
        "nothing is configured for this call in this session; call open_client or open_bridge first"
    )]
    NoClient,
    /// The component answered something the host could not read.
    #[error("unreadable answer from the component: {0}")]
    Protocol(String),
    /// The call's writes could not be committed (nothing of them was kept).
    #[error("the call's state was not saved: {0}")]
    Commit(#[from] crate::store::CommitError),
}
