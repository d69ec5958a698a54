//! `glbridge serve` after a burst: quiet when idle.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod process;

use std::time::Duration;

use process::{agent, cpu_time, scratch, serve_args, spawn, stop, strs, support, wait_up};

const KEY: &str = "whsec_idle";

#[test]
fn after_a_burst_of_webhooks_the_idle_service_uses_almost_no_cpu() {
    let dir = scratch("glbridge-idle");
    let port = support::free_port();
    let store = dir.join("db");
    let running = spawn(&strs(&serve_args(port, &store, KEY, &[])), &[]);
    let base = format!("http://127.0.0.1:{port}");
    wait_up(&format!("{base}/healthz"));

    // 6,000 replies over 200 conversations (none collected: all stay queued).
    let senders: Vec<_> = (0..4)
        .map(|t| {
            let url = format!("{base}/webhooks/gradient-labs");
            std::thread::spawn(move || {
                let http = agent();
                for c in (t..200).step_by(4) {
                    for seq in 1..=30u64 {
                        let body = serde_json::json!({
                            "id": format!("e-{c}-{seq}"), "type": "agent.message",
                            "sequence_number": seq, "timestamp": "2025-01-01T00:00:00Z",
                            "data": {"conversation": {"id": format!("gleap-{c}"), "customer_id": "u"}, "body": "x".repeat(200)}
                        })
                        .to_string();
                        let now = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .unwrap()
                            .as_secs() as i64;
                        let sig = glbridge_guest::webhook::sign(KEY, now, body.as_bytes());
                        let r = http
                            .post(&url)
                            .header("X-GradientLabs-Signature", &sig)
                            .header("Content-Type", "application/json")
                            .send(body.as_bytes())
                            .unwrap();
                        assert_eq!(r.status(), 200);
                    }
                }
            })
        })
        .collect();
    for s in senders {
        s.join().unwrap();
    }
    std::thread::sleep(Duration::from_secs(1));
    let pid = running.child.id();
    let before = cpu_time(pid);
    std::thread::sleep(Duration::from_secs(5));
    let used = cpu_time(pid) - before;
    eprintln!("CPU over 5 s idle after 6,000 webhooks: {used:?}");
    // 2 % of one core.
    assert!(
        used <= Duration::from_millis(100),
        "idle, the service used {used:?} of CPU in 5 s"
    );
    stop(running);
    std::fs::remove_dir_all(&dir).ok();
}
