//! The native reference for the webhook route's load test: a minimal axum
//! handler that verifies and parses each webhook with the guest library
//! compiled natively — no component, no store — on the same runtime shape as
//! `glbridge serve` (tokio, two worker threads).
//!
//!     cargo run --release -p glbridge-cli --example webhook_reference -- [LISTEN] [KEY]

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:8090".into());
    let key: &'static str = Box::leak(
        args.next()
            .unwrap_or_else(|| "whsec_load".into())
            .into_boxed_str(),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let app = axum::Router::new().route(
            "/webhooks/gradient-labs",
            post(move |headers: HeaderMap, body: Bytes| async move {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() as i64);
                let signature = headers
                    .get("x-gradientlabs-signature")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                match glbridge_guest::webhook::verify_and_parse(
                    key, signature, None, &body, now, 300,
                ) {
                    Ok(_) => (StatusCode::OK, "{}"),
                    Err(_) => (StatusCode::UNAUTHORIZED, "{\"error\":\"bad signature\"}"),
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind(&listen).await?;
        eprintln!("reference webhook handler on http://{listen}");
        axum::serve(listener, app).await?;
        anyhow::Ok(())
    })
}
