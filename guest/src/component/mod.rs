//! The wit-bindgen glue: maps WIT types to the library's and back, and the
//! imports to the [`crate::env`] traits. No protocol logic lives here.
//!
//! One glue for three worlds (`wit/world.wit`), picked by the crate's
//! features: none is `verifier`, `client` adds the API, `bridge` (the
//! default) adds the store, ordering and the helpdesks. Each world's module
//! holds only what that world exports, so a smaller component carries no
//! code of a larger one.

#[cfg(feature = "bridge")]
wit_bindgen::generate!({ path: "../wit", world: "bridge" });
#[cfg(all(feature = "client", not(feature = "bridge")))]
wit_bindgen::generate!({ path: "../wit", world: "api-client" });
#[cfg(not(feature = "client"))]
wit_bindgen::generate!({ path: "../wit", world: "verifier" });

use serde_json::Value;

use crate::error::Error as LibError;
use gradient_labs::bridge::{clock, types as wt};

#[cfg(feature = "client")]
mod admin;
#[cfg(feature = "client")]
mod api;
#[cfg(feature = "bridge")]
mod helpdesks;
#[cfg(feature = "bridge")]
mod ordering;
mod webhooks;

struct Component;
export!(Component);

/// The imports, as the library's [`crate::env`] traits (the verifier asks
/// its one import, `clock`, directly).
#[cfg(feature = "client")]
struct Imports;

#[cfg(feature = "client")]
impl crate::env::Clock for Imports {
    fn now(&self) -> crate::time::Timestamp {
        crate::time::Timestamp(clock::now())
    }
    fn sleep(&self, nanos: u64) {
        clock::sleep(nanos)
    }
}

// ---------------------------------------------------------------- shared mapping

fn error(e: LibError) -> wt::Error {
    match e {
        LibError::InvalidArgument { field, reason } => {
            wt::Error::InvalidArgument(wt::InvalidArgument { field, reason })
        }
        LibError::Api(a) => wt::Error::Api(wt::ApiError {
            status: a.status,
            code: a.code,
            message: a.message,
            trace_id: a.trace_id,
        }),
        LibError::Transport { message } => wt::Error::Transport(message),
        LibError::InvalidResponse { message } => wt::Error::InvalidResponse(message),
        LibError::Store { message } => wt::Error::Store(message),
    }
}

#[cfg(feature = "client")]
fn ts(t: Option<i64>) -> Option<crate::time::Timestamp> {
    t.map(crate::time::Timestamp)
}

#[cfg(feature = "client")]
fn json_in(field: &str, text: Option<String>) -> Result<Option<Value>, LibError> {
    text.map(|t| crate::validate::json(field, &t)).transpose()
}

fn json_out(v: &Value) -> String {
    v.to_string()
}
