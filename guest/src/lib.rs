//! glbridge-guest: all protocol and signature logic of glbridge.
//!
//! This crate is an ordinary Rust library — its unit tests run natively — and,
//! built for `wasm32-unknown-unknown`, the WebAssembly component whose only
//! imports are the `http`, `clock` and `store` interfaces of `wit/`.
//!
//! It is sans-IO: nothing here opens a socket, reads a file or the system
//! clock. Every request goes out through [`env::Transport`], every wait
//! through [`env::Clock`], and every piece of state through [`env::Store`], so
//! the [`testing`] fakes make each scenario deterministic and instant.

#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod bridge;
pub mod client;
pub mod config;
pub mod env;
pub mod error;
pub mod helpdesk;
pub mod http;
pub mod mac;
pub mod model;
pub mod operation;
pub mod protocol;
pub mod retry;
pub mod state;
pub mod testing;
pub mod time;
pub mod validate;
pub mod webhook;

#[cfg(target_arch = "wasm32")]
mod component;

pub use client::{Client, Config};
pub use error::{ApiError, Error, Result};
pub use operation::{Operation, Output};
pub use retry::RetryPolicy;
pub use time::Timestamp;
