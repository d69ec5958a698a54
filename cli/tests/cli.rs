//! The `glbridge` binary: exit codes and output of every command.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../../host/tests/support/mod.rs"]
mod support;

use std::io::Write;
use std::process::{Command, Output, Stdio};

const KEY: &str = "FNHtU3KZpxF3GfKSZXCNkUkPnVSPQygbdNMLHuibkPY=";
const V1: &str = "05b3faa3377aea763b67a528813bcd7357581fa3f75dd7bf870a83986c6a425f";

fn glbridge(args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_glbridge"));
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.env_remove("GLBRIDGE_API_KEY")
        .env_remove("GLBRIDGE_API_URL")
        .env_remove("GLBRIDGE_WEBHOOK_SIGNING_KEY");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn webhook_sign_prints_the_published_vector() {
    let out = glbridge(
        &[
            "webhook",
            "sign",
            "--signing-key",
            KEY,
            "--timestamp",
            "1699291314",
        ],
        br#"{"type":"foo.bar"}"#,
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), format!("t=1699291314,v1={V1}"));
}

#[test]
fn webhook_verify_exit_codes() {
    let body = br#"{"id":"wh_1","type":"agent.message","sequence_number":5,"timestamp":"2023-10-23T17:24:50.804952Z","data":{"conversation":{"id":"c-1","customer_id":"u-1"},"body":"Sure!"}}"#;
    let sign = glbridge(
        &["webhook", "sign", "--timestamp", "1699291314"],
        body,
        &[("GLBRIDGE_WEBHOOK_SIGNING_KEY", KEY)],
    );
    let header = text(&sign.stdout).trim().to_owned();
    let verify = |header: &str, now: &str, body: &[u8]| {
        glbridge(
            &[
                "webhook",
                "verify",
                "--signing-key",
                KEY,
                "--signature",
                header,
                "--now",
                now,
                "--token",
                "tk",
            ],
            body,
            &[],
        )
    };
    let ok = verify(&header, "1699291314", body);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    let event: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(event["id"], "wh_1");
    assert_eq!(event["type"], "agent.message");
    assert_eq!(event["sequence_number"], 5);
    assert_eq!(event["data"]["body"], "Sure!");
    assert_eq!(event["token"], "tk");

    let stale = verify(&header, "1699291615", body);
    assert_eq!(stale.status.code(), Some(1));
    assert_eq!(text(&stale.stderr).lines().count(), 1, "one-line reason");
    let tampered = verify(&header, "1699291314", &body[..body.len() - 2]);
    assert_eq!(tampered.status.code(), Some(1));
    assert!(text(&tampered.stderr).contains("does not match"));
    assert_eq!(
        verify("t=1699291314", "1699291314", body).status.code(),
        Some(1)
    );

    let vector = verify(
        &format!("t=1699291314,v1={V1}"),
        "1699291314",
        br#"{"type":"foo.bar"}"#,
    );
    assert_eq!(
        vector.status.code(),
        Some(3),
        "good signature, not an envelope"
    );

    let usage = glbridge(&["webhook", "verify", "--signing-key", KEY], b"", &[]);
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn api_runs_operations_over_real_http() {
    let server = support::Server::start(vec![
        (
            200,
            vec![],
            r#"{"id":"c 1","customer_id":"u","channel":"web","status":"observing"}"#.into(),
        ),
        (
            403,
            vec![],
            r#"{"code":"permission_denied","message":"wrong role","details":{"trace_id":"t-7"}}"#
                .into(),
        ),
    ]);
    let url = server.url.clone();
    let env = [
        ("GLBRIDGE_API_URL", url.as_str()),
        ("GLBRIDGE_API_KEY", "sk_cli_secret"),
    ];
    let ok = glbridge(
        &[
            "api",
            "conversations.read",
            "--json",
            r#"{"conversation_id":"c+1"}"#,
        ],
        b"",
        &env,
    );
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    let conv: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(conv["status"], "observing");
    let denied = glbridge(&["api", "management.list-secrets"], b"", &env);
    assert_eq!(denied.status.code(), Some(1));
    let stderr = text(&denied.stderr);
    assert!(
        stderr.contains("permission_denied") && stderr.contains("t-7"),
        "{stderr}"
    );
    assert!(!stderr.contains("sk_cli_secret"));
    let seen = server.seen();
    server.join();
    assert_eq!(seen[0].target, "/conversations/c%2B1/read");
    assert_eq!(
        seen[0].header("authorization"),
        Some("Bearer sk_cli_secret")
    );
    assert_eq!(seen[1].target, "/secrets");

    let invalid = glbridge(
        &[
            "api",
            "conversations.read",
            "--json",
            r#"{"conversation_id":"a/b"}"#,
        ],
        b"",
        &env,
    );
    assert_eq!(invalid.status.code(), Some(1));
    assert!(text(&invalid.stderr).contains("invalid_argument"));
}

#[test]
fn component_writes_a_loadable_component() {
    let dir = std::env::temp_dir().join(format!("glbridge-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bridge.wasm");
    let out = glbridge(&["component", "--out", path.to_str().unwrap()], b"", &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read(&path).unwrap(),
        glbridge_host::EMBEDDED_COMPONENT
    );
    let ops = glbridge(
        &["--component", path.to_str().unwrap(), "operations"],
        b"",
        &[],
    );
    assert!(text(&ops.stdout)
        .lines()
        .any(|l| l.split_whitespace().next() == Some("conversations.start")));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn component_writes_each_world_and_refuses_a_file_of_another() {
    use glbridge_host::World;
    let dir = std::env::temp_dir().join(format!("glbridge-worlds-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for world in World::ALL {
        // Into a directory that does not exist yet.
        let path = dir.join("out").join(format!("{world}.wasm"));
        let out = glbridge(
            &[
                "component",
                "--world",
                world.name(),
                "--out",
                path.to_str().unwrap(),
            ],
            b"",
            &[],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains(&format!("the {world} world")),
            "{}",
            text(&out.stderr)
        );
        assert_eq!(std::fs::read(&path).unwrap(), world.embedded());
    }
    let verifier = dir.join("out").join("verifier.wasm");
    let wrong = glbridge(
        &[
            "--component",
            verifier.to_str().unwrap(),
            "component",
            "--world",
            "client",
            "--out",
            dir.join("x.wasm").to_str().unwrap(),
        ],
        b"",
        &[],
    );
    assert_eq!(wrong.status.code(), Some(1));
    assert!(
        text(&wrong.stderr).contains("not the client world"),
        "{}",
        text(&wrong.stderr)
    );
    assert!(!dir.join("x.wasm").exists(), "nothing written");
    let unknown = glbridge(
        &["component", "--world", "everything", "--out", "x.wasm"],
        b"",
        &[],
    );
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        text(&unknown.stderr).contains("give verifier, client or bridge"),
        "{}",
        text(&unknown.stderr)
    );
    let help = glbridge(&["component", "--help"], b"", &[]);
    for world in World::ALL {
        assert!(text(&help.stdout).contains(world.name()));
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn operations_lists_every_operation_and_api_help_shows_one_operations_parameters() {
    let ops = glbridge(&["operations"], b"", &[]);
    assert!(ops.status.success(), "{}", text(&ops.stderr));
    let listing = text(&ops.stdout);
    let names: Vec<&str> = listing
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(names.len(), glbridge_guest::operation::names().count());
    assert!(
        listing.lines().any(|l| l.starts_with("procedures.set-live")
            && l.contains(" M ")
            && l.contains("POST /procedures/{id}/versions/{version}/set-live")),
        "{listing}"
    );
    // No key is needed to read the help.
    let help = glbridge(&["api", "notes.create", "--help"], b"", &[]);
    assert!(help.status.success(), "{}", text(&help.stderr));
    let help = text(&help.stdout);
    assert!(
        help.contains("POST /notes") && help.contains("Management key"),
        "{help}"
    );
    assert!(
        help.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["title", "body", "required", "string"]),
        "{help}"
    );
    let paged = text(&glbridge(&["api", "procedures.list", "-h"], b"", &[]).stdout);
    assert!(paged.contains("\"all_pages\": true"), "{paged}");
    let unknown = glbridge(&["api", "procedures.nope", "--help"], b"", &[]);
    assert!(!unknown.status.success());
    assert!(
        text(&unknown.stderr).contains("unknown operation"),
        "{}",
        text(&unknown.stderr)
    );
    let general = text(&glbridge(&["api", "--help"], b"", &[]).stdout);
    assert!(general.contains("Run any API operation"), "{general}");
}

#[test]
fn demo_plays_six_conversations_and_exits_0() {
    let out = glbridge(&["demo"], b"", &[]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert_eq!(stdout.matches("▸ Conversation").count(), 6, "{stdout}");
    assert!(
        stdout.contains("30 days")
            && stdout.contains("out for delivery")
            && stdout.contains("[ai-handoff]")
            && stdout.contains("posted by the bot")
            && stdout.contains("[conversation resolved in Chatwoot]")
            && stdout.contains("[conversation open for the team]")
            && stdout.contains("[control passed to zd-agentWorkspace]"),
        "{stdout}"
    );
    assert!(
        stdout.contains(" ms, HTTP 200)"),
        "each turn shows its latency"
    );
}

#[test]
fn serve_refuses_to_start_without_a_gleap_secret() {
    let args = [
        "serve",
        "--api-url",
        "http://127.0.0.1:9",
        "--api-key",
        "sk",
        "--webhook-signing-key",
        "wk",
        "--listen",
        "127.0.0.1:0",
    ];
    let out = glbridge(&args, b"", &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("GLBRIDGE_GLEAP_SECRET") && err.contains("--insecure-no-gleap-auth"),
        "{err}"
    );
    let half = glbridge(&["serve", "--api-url", "http://127.0.0.1:9"], b"", &[]);
    assert!(text(&half.stderr).contains("both --api-url and --api-key"));
}

#[test]
fn serve_refuses_chatwoot_without_a_way_to_authenticate_its_events() {
    let base = [
        "serve",
        "--api-url",
        "http://127.0.0.1:9",
        "--api-key",
        "sk",
        "--webhook-signing-key",
        "wk",
        "--gleap-secret",
        "Bearer g",
        "--listen",
        "127.0.0.1:0",
    ];
    let with = |extra: &[&str], env: &[(&str, &str)]| {
        let args: Vec<&str> = base.iter().chain(extra).copied().collect();
        let out = glbridge(&args, b"", env);
        (out.status.code(), text(&out.stderr))
    };
    let (code, err) = with(
        &[],
        &[
            ("GLBRIDGE_CHATWOOT_URL", "https://chat.example.com"),
            ("GLBRIDGE_CHATWOOT_BOT_TOKEN", "t"),
        ],
    );
    assert_eq!(code, Some(1));
    assert!(
        err.contains("GLBRIDGE_CHATWOOT_SECRET")
            && err.contains("--chatwoot-url-token")
            && err.contains("--insecure-no-chatwoot-auth"),
        "{err}"
    );
    let (code, err) = with(&["--chatwoot-url", "https://chat.example.com"], &[]);
    assert_eq!(code, Some(1));
    assert!(err.contains("--chatwoot-bot-token"), "{err}");
    let (code, err) = with(&["--chatwoot-bot-token", "t"], &[]);
    assert_eq!(code, Some(1));
    assert!(err.contains("without --chatwoot-url"), "{err}");
}

#[test]
fn serve_takes_flags_over_environment_over_file_keeps_secrets_out_of_its_log_and_stops_on_sigterm()
{
    let dir = std::env::temp_dir().join(format!("glbridge-serve-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let file = dir.join("glbridge.toml");
    std::fs::write(
        &file,
        format!(
            "listen = \"127.0.0.1:1\"\nstore = \"{}\"\ngleap_secret = \"Bearer from-file\"\nreply_wait = \"50ms\"\n[actions.order-status]\nurl = \"http://127.0.0.1:9/x\"\nheaders = {{ X-Key = \"k\" }}\n",
            dir.join("state.db").display()
        ),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_glbridge"))
        .args([
            "serve",
            "--config",
            file.to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .env("GLBRIDGE_GLEAP_SECRET", "Bearer from-env")
        .env_remove("GLBRIDGE_API_URL")
        .env_remove("GLBRIDGE_API_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (agent, url) = serve_up(port);
    let call = r#"{"conversation":{"id":"cli-1"},"session":{"userId":"u"},"comments":[{"id":"c1","comment":"How long does delivery take?"}]}"#;
    let status = |auth: &str| {
        agent
            .post(&format!("{url}/gleap/action"))
            .header("Authorization", auth)
            .send(call.as_bytes())
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(
        status("Bearer from-file"),
        401,
        "the environment beats the file"
    );
    assert_eq!(status("Bearer from-env"), 200);
    assert!(
        dir.join("state.db").exists(),
        "the store from the file is used"
    );
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "stops cleanly on SIGTERM");
    let log = text(&out.stderr);
    assert!(log.contains("started the sandbox in-process"), "{log}");
    for secret in ["from-env", "from-file", "sk_int_", "whsec_"] {
        assert!(
            !log.contains(secret),
            "{secret} leaked into the log:\n{log}"
        );
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn serve_bridging_only_chatwoot_serves_no_gleap_route() {
    let dir = std::env::temp_dir().join(format!("glbridge-cw-only-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_glbridge"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--store",
            dir.join("state.db").to_str().unwrap(),
            "--api-url",
            "http://127.0.0.1:9",
            "--api-key",
            "sk",
            "--webhook-signing-key",
            "wk",
            "--chatwoot-url",
            "http://127.0.0.1:9",
            "--chatwoot-bot-token",
            "t",
            "--chatwoot-secret",
            "s",
        ])
        .env_remove("GLBRIDGE_GLEAP_SECRET")
        .env_remove("GLBRIDGE_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (agent, url) = serve_up(port);
    let gleap = agent
        .post(&format!("{url}/gleap/action"))
        .send(&b"{}"[..])
        .unwrap();
    assert_eq!(gleap.status().as_u16(), 404, "no open Gleap route");
    let chatwoot = agent
        .post(&format!("{url}/chatwoot/webhook"))
        .send(&b"{}"[..])
        .unwrap();
    assert_eq!(chatwoot.status().as_u16(), 401, "unsigned: refused");
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let log = text(&out.stderr);
    assert!(log.contains("Gleap is not bridged"), "{log}");
    let routes = log
        .lines()
        .find(|l| l.contains("glbridge serve: "))
        .unwrap_or_default();
    assert!(
        routes.contains("POST /chatwoot/webhook") && !routes.contains("/gleap/action"),
        "{log}"
    );
    std::fs::remove_dir_all(dir).ok();
}

/// Waits until `serve` answers `/healthz` on `port`; an agent that reads
/// every status, and the base URL.
fn serve_up(port: u16) -> (ureq::Agent, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("http://127.0.0.1:{port}");
    let started = std::time::Instant::now();
    while agent.get(&format!("{url}/healthz")).call().is_err() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "serve did not come up on the --listen port"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    (agent, url)
}
