//! Writes signed `agent.message` webhooks for load tests, one per line:
//! `<X-GradientLabs-Signature>\t<body>`. Event `i` belongs to conversation
//! `i % CONVERSATIONS` with sequence number `i / CONVERSATIONS + 1`, so a
//! tool that sends the lines in order sends each conversation's events in
//! order; bodies are padded to about 1 KiB.
//!
//!     cargo run --release -p glbridge-cli --example webhook_requests -- OUT [COUNT] [CONVERSATIONS] [KEY]

use std::io::{BufWriter, Write};

use glbridge_guest::webhook::sign;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let out = args.next().ok_or_else(|| {
        anyhow::anyhow!("usage: webhook_requests OUT [COUNT] [CONVERSATIONS] [KEY]")
    })?;
    let count: u64 = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(100_000);
    let conversations: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1_000);
    let key = args.next().unwrap_or_else(|| "whsec_load".into());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let mut file = BufWriter::new(std::fs::File::create(&out)?);
    let filler = "Thanks for waiting — here is what I found about your order. ".repeat(14);
    for i in 0..count {
        let body = serde_json::json!({
            "id": format!("wh-{i:08}"),
            "type": "agent.message",
            "sequence_number": i / conversations + 1,
            "timestamp": "2026-11-26T12:00:00Z",
            "data": {
                "conversation": {"id": format!("load-{:04}", i % conversations), "customer_id": "customer-1"},
                "body": &filler[..filler.len().min(840)],
                "is_holding": false,
            },
        })
        .to_string();
        let signature = sign(&key, now, body.as_bytes());
        writeln!(file, "{signature}\t{body}")?;
    }
    file.flush()?;
    Ok(())
}
