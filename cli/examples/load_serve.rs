//! A bounded load test of `glbridge serve` over loopback: starts the service
//! with its embedded sandbox, fires a fixed number of Gleap calls from a few
//! concurrent clients (each a new conversation answered from an article),
//! and prints throughput and latency percentiles.
//!
//!     cargo run --release -p glbridge-cli --example load_serve -- [CALLS] [CLIENTS]

use std::time::{Duration, Instant};

use glbridge_cli::serve::{ServeConfig, Service, Upstream};
use glbridge_guest::client::Secret;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let calls: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(400);
    let clients: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(8);
    let dir = std::env::temp_dir().join(format!("glbridge-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut config = ServeConfig::new(
        Upstream::EmbeddedSandbox {
            seed: Some(glbridge_cli::demo::seed()),
        },
        dir.join("load.db"),
    );
    config.listen = "127.0.0.1:0".parse()?;
    config.gleap_secret = Some(Secret::new("Bearer load"));
    let service = Service::start(config)?;
    let url = format!("{}/gleap/action", service.url());
    let started = Instant::now();
    let per_client = calls / clients;
    let latencies: Vec<Duration> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..clients)
            .map(|w| {
                let url = url.clone();
                scope.spawn(move || {
                    let agent: ureq::Agent = ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(30))).build().into();
                    let mut out = Vec::with_capacity(per_client);
                    for i in 0..per_client {
                        let body = format!(
                            r#"{{"conversation":{{"id":"load-{w}-{i}"}},"session":{{"userId":"u-{w}"}},"comments":[{{"id":"c","comment":"How long does delivery take?"}}]}}"#
                        );
                        let t = Instant::now();
                        let mut r = agent.post(&url).header("Authorization", "Bearer load").send(body.as_bytes()).expect("call");
                        let text = r.body_mut().read_to_string().expect("body");
                        assert!(text.contains("3 to 5"), "unexpected answer: {text}");
                        out.push(t.elapsed());
                    }
                    out
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|h| h.join().expect("worker"))
            .collect()
    });
    let wall = started.elapsed();
    let mut sorted = latencies.clone();
    sorted.sort();
    let pct = |p: f64| sorted[((sorted.len() as f64 - 1.0) * p) as usize].as_secs_f64() * 1000.0;
    println!(
        "{} Gleap calls, {clients} clients, {:.2} s: {:.0} calls/s; latency p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        sorted.len(),
        wall.as_secs_f64(),
        sorted.len() as f64 / wall.as_secs_f64(),
        pct(0.5),
        pct(0.95),
        pct(0.99),
        pct(1.0)
    );
    service.stop();
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}
