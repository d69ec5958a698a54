//! Writes signed Chatwoot `message_created` events for load tests, one per
//! line: `<X-Chatwoot-Timestamp>\t<X-Chatwoot-Signature>\t<body>`. Event `i`
//! is customer message `i` of conversation `i % CONVERSATIONS` (account 1),
//! a `pending` conversation, so each is planned and queued for the agent.
//!
//!     cargo run --release -p glbridge-cli --example chatwoot_requests -- OUT [COUNT] [CONVERSATIONS] [SECRET]

use std::io::{BufWriter, Write};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let out = args.next().ok_or_else(|| {
        anyhow::anyhow!("usage: chatwoot_requests OUT [COUNT] [CONVERSATIONS] [SECRET]")
    })?;
    let count: u64 = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(100_000);
    let conversations: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1_000);
    let secret = args.next().unwrap_or_else(|| "cw_load".into());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let mut file = BufWriter::new(std::fs::File::create(&out)?);
    for i in 0..count {
        let c = i % conversations;
        let body = serde_json::json!({
            "event": "message_created",
            "id": 1_000_000 + i,
            "content": "Hello! How long does delivery take to Lisbon, and can I change the address?",
            "message_type": "incoming",
            "content_type": "text",
            "private": false,
            "sender": {"id": c, "name": "Sam", "type": "contact"},
            "conversation": {
                "id": c + 1, "status": "pending", "inbox_id": 1, "channel": "Channel::WebWidget",
                "meta": {"sender": {"id": c, "name": "Sam", "email": format!("sam{c}@example.com")}},
                "labels": [], "custom_attributes": {}
            },
            "account": {"id": 1, "name": "Load"},
            "inbox": {"id": 1, "name": "Website"}
        })
        .to_string();
        let signature = glbridge_guest::helpdesk::chatwoot::sign(&secret, now, body.as_bytes());
        writeln!(file, "{now}\t{signature}\t{body}")?;
    }
    file.flush()?;
    Ok(())
}
