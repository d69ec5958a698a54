//! HTTP transports: a real client (ureq with rustls) and the scripted,
//! recording one for tests.

use std::time::Duration;

use glbridge_guest::env::Transport;
use glbridge_guest::http::{HttpRequest, HttpResponse, Method, TransportError};

pub use glbridge_guest::testing::ScriptedTransport;

/// Largest response body read, in bytes.
pub const MAX_RESPONSE_BYTES: u64 = 16 * 1024 * 1024;

/// A real HTTP/1.1 client with TLS (rustls) and connection pooling.
#[derive(Clone)]
pub struct UreqTransport {
    agent: ureq::Agent,
}

impl std::fmt::Debug for UreqTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UreqTransport")
    }
}

impl Default for UreqTransport {
    fn default() -> Self {
        Self::new()
    }
}

impl UreqTransport {
    /// A client that hands back every status as an answer (errors included)
    /// and never follows redirects (the API does not use them).
    pub fn new() -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .into();
        UreqTransport { agent }
    }
}

fn transport_error(e: ureq::Error) -> TransportError {
    match e {
        ureq::Error::Timeout(_) => TransportError::Timeout,
        ureq::Error::BadUri(m) => TransportError::InvalidUrl(m),
        ureq::Error::Http(e) => TransportError::InvalidUrl(e.to_string()),
        ureq::Error::Io(e) if e.kind() == std::io::ErrorKind::TimedOut => TransportError::Timeout,
        other => TransportError::Connection(other.to_string()),
    }
}

impl Transport for UreqTransport {
    fn send(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        let url = request.url.as_str();
        let timeout = Some(Duration::from_millis(u64::from(request.timeout_ms.max(1))));
        let mut builder = match request.method {
            Method::Get => self.agent.get(url).force_send_body(),
            Method::Delete => self.agent.delete(url).force_send_body(),
            Method::Post => self.agent.post(url),
            Method::Put => self.agent.put(url),
        };
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let builder = builder.config().timeout_global(timeout).build();
        let result = match &request.body {
            Some(body) => builder.send(body.as_slice()),
            None => builder.send_empty(),
        };
        let mut response = result.map_err(transport_error)?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE_BYTES)
            .read_to_vec()
            .map_err(transport_error)?;
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
}
