//! `glbridge demo`: the sandbox and the service in-process, a small help
//! centre, and three Gleap conversations played through `/gleap/action`.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use glbridge_guest::bridge::ActionEndpoint;
use glbridge_guest::client::Secret;
use glbridge_guest::helpdesk::chatwoot::adapter::Auth as ChatwootAuth;
use glbridge_guest::helpdesk::chatwoot::Settings as ChatwootSettings;
use glbridge_guest::helpdesk::zendesk::adapter::ZendeskConfig;
use glbridge_guest::helpdesk::zendesk::Settings as ZendeskSettings;
use glbridge_guest::model::knowledge::{PublicationStatus, Visibility};
use glbridge_sandbox::chatwoot::{ChatwootStandIn, StandInConfig};
use glbridge_sandbox::seed::{ActionRule, Seed, SeedArticle, SeedTarget};
use glbridge_sandbox::zendesk::{StandInConfig as ZendeskStandInConfig, ZendeskStandIn};
use serde_json::{json, Value};

use crate::serve::{ServeConfig, Service, Upstream};

/// The demo's help centre: three articles, a hand-off target, one action.
pub fn seed() -> Seed {
    let article = |id: &str, title: &str, body: &str| SeedArticle {
        id: id.into(),
        title: title.into(),
        body: body.into(),
        topic_id: None,
        visibility: Visibility::Public,
        status: PublicationStatus::Published,
    };
    Seed {
        articles: vec![
            article(
                "returns",
                "Returning an item",
                "You can return any item within **30 days** of delivery for a full refund. Start a return from *Orders → Return an item*; the label is free.",
            ),
            article("shipping", "Shipping times", "Orders ship within 2 working days; delivery takes 3 to 5 working days."),
            article("password", "Resetting your password", "Use *Forgot password* on the sign-in page and follow the link we e-mail you."),
        ],
        topics: vec![],
        hand_off_targets: vec![SeedTarget { id: "support".into(), name: "Support team".into(), default: true }],
        actions: vec![ActionRule {
            name: "order-status".into(),
            keywords: vec!["where is my order".into(), "order status".into(), "track my order".into()],
            reply: Some("Your order **{{id}}** is {{status}} — expected {{eta}}.".into()),
            holding: "One moment while I look up your order.".into(),
        }],
    }
}

/// A tiny order-status endpoint for the demo's action.
fn start_order_endpoint(runtime: &tokio::runtime::Runtime) -> Result<String> {
    use axum::routing::post;
    use axum::Json;
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    let app = axum::Router::new().route(
        "/order-status",
        post(|Json(call): Json<Value>| async move {
            let reference = call["params"]["reference"].as_str().unwrap_or("unknown").to_owned();
            Json(json!({"id": reference, "status": "out for delivery", "eta": "tomorrow before 6 pm"}))
        }),
    );
    runtime.spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(format!("http://{addr}/order-status"))
}

struct Turn {
    text: &'static str,
}

struct Scenario {
    title: &'static str,
    turns: Vec<Turn>,
    expect: fn(&Value) -> bool,
}

fn comment(id: &str, text: &str) -> Value {
    json!({
        "id": id,
        "type": "COMMENT",
        "bot": false,
        "comment": {"type": "doc", "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}]},
    })
}

fn indent(text: &str) -> String {
    text.lines().collect::<Vec<_>>().join("\n            ")
}

/// Runs the demo, printing each turn; an error unless all three
/// conversations went as expected.
pub fn run() -> Result<()> {
    play(&mut std::io::stdout().lock())?;
    println!("All six conversations (three from Gleap, two in Chatwoot, one in Zendesk) went through the component, the sandbox and back. Next: `glbridge serve --help`.");
    Ok(())
}

/// Starts the sandbox, the Chatwoot and Zendesk stand-ins and the service,
/// plays the three Gleap conversations, the two Chatwoot ones and the
/// Zendesk one, and
/// writes them to `out`; an error naming the conversations that did not go
/// as expected. Each call is independent (its own store, sandbox and ids).
pub fn play(out: &mut dyn Write) -> Result<()> {
    static RUNS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("glbridge-demo-{}-{run}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let order_url = start_order_endpoint(&runtime)?;
    let secret = format!("Bearer {}", glbridge_sandbox::random_key("demo_"));
    let mut config = ServeConfig::new(
        Upstream::EmbeddedSandbox { seed: Some(seed()) },
        dir.join("glbridge.db"),
    );
    config.listen = "127.0.0.1:0".parse()?;
    config.gleap_secret = Some(Secret::new(secret.clone()));
    config.actions = vec![ActionEndpoint {
        name: "order-status".into(),
        url: order_url,
        headers: vec![],
        timeout_ms: 5_000,
    }];
    // A Chatwoot too, whose agent bot is this bridge.
    let chatwoot = ChatwootStandIn::start(StandInConfig::default())
        .context("starting the Chatwoot stand-in")?;
    config.chatwoot = Some((
        ChatwootSettings {
            base_url: chatwoot.url(),
            bot_token: chatwoot.config().bot_token.clone(),
            teams: Default::default(),
        },
        ChatwootAuth::Signature {
            secret: Secret::new(chatwoot.config().bot_secret.clone()),
            window_secs: 300,
        },
    ));
    // And Zendesk messaging, whose bot integration is this bridge.
    let zendesk = ZendeskStandIn::start(ZendeskStandInConfig::default())
        .context("starting the Zendesk stand-in")?;
    let z = zendesk.config();
    config.zendesk = Some(ZendeskConfig {
        settings: ZendeskSettings {
            base_url: zendesk.url(),
            app_id: z.app_id.clone(),
            bot_name: z.bot_name.clone(),
            targets: Default::default(),
            default_target: glbridge_guest::helpdesk::zendesk::AGENT_WORKSPACE.into(),
            ai_subtype: true,
        },
        key_id: z.key_id.clone(),
        key_secret: Secret::new(z.key_secret.clone()),
        webhook_secret: Secret::new(z.webhook_secret.clone()),
    });
    let started = Instant::now();
    let service = Service::start(config).context("starting the bridge")?;
    chatwoot.set_bot_url(&format!("{}/chatwoot/webhook", service.url()));
    zendesk.set_bot_url(&format!("{}/zendesk/webhook", service.url()));
    writeln!(
        out,
        "glbridge demo — everything local, nothing configured ({} ms to start)\n",
        started.elapsed().as_millis()
    )?;
    writeln!(out, "  AI-agent API (sandbox)   {}", service.api_url())?;
    writeln!(out, "  bridge (glbridge serve)  {}", service.url())?;
    writeln!(
        out,
        "  Gleap calls go to        {}/gleap/action",
        service.url()
    )?;
    writeln!(out, "  Chatwoot (stand-in)      {}", chatwoot.url())?;
    writeln!(
        out,
        "  its agent bot's URL      {}/chatwoot/webhook\n",
        service.url()
    )?;

    let scenarios = [
        Scenario {
            title: "answered from a help-centre article",
            turns: vec![
                Turn {
                    text: "Hi! How do I return an item I bought last week?",
                },
                Turn {
                    text: "Perfect, thanks!",
                },
            ],
            expect: |last| last["tags"] == json!(["ai-finished"]),
        },
        Scenario {
            title: "the agent calls an action",
            turns: vec![Turn {
                text: "Where is my order A-1042?",
            }],
            expect: |last| {
                last["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("out for delivery"))
            },
        },
        Scenario {
            title: "handed off to a person",
            turns: vec![Turn {
                text: "My parcel arrived damaged and I want to talk to a human.",
            }],
            expect: |last| last["tags"] == json!(["ai-handoff"]),
        },
    ];
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .http_status_as_error(false)
        .build();
    let agent: ureq::Agent = agent.into();
    let mut failures = Vec::new();
    for (n, scenario) in scenarios.iter().enumerate() {
        writeln!(out, "▸ Conversation {}: {}", n + 1, scenario.title)?;
        let mut comments: Vec<Value> = Vec::new();
        let mut last = Value::Null;
        for (t, turn) in scenario.turns.iter().enumerate() {
            comments.push(comment(&format!("demo{n}-c{t}"), turn.text));
            let recent: Vec<Value> = comments.iter().rev().take(2).rev().cloned().collect();
            let call = json!({
                "conversation": {"id": format!("demo-{}-{run}-{n}", std::process::id()), "type": "INQUIRY", "project": "demo", "customData": {}},
                "session": {"id": "s", "userId": format!("customer-{n}"), "email": "sam@example.com", "name": "Sam"},
                "comments": recent,
            });
            writeln!(out, "  customer  {}", turn.text)?;
            let sent = Instant::now();
            let mut response = agent
                .post(&format!("{}/gleap/action", service.url()))
                .header("Authorization", &secret)
                .header("Content-Type", "application/json")
                .send(call.to_string().as_bytes())?;
            let status = response.status().as_u16();
            let body: Value =
                serde_json::from_slice(&response.body_mut().read_to_vec()?).unwrap_or(Value::Null);
            let ms = sent.elapsed().as_millis();
            let message = body["message"].as_str().unwrap_or("(no message)");
            let tags = body["tags"]
                .as_array()
                .map(|t| {
                    format!(
                        "  [{}]",
                        t.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })
                .unwrap_or_default();
            writeln!(
                out,
                "  agent     {}{tags}   ({ms} ms, HTTP {status})",
                indent(message)
            )?;
            last = body;
        }
        if !(scenario.expect)(&last) {
            failures.push(scenario.title);
        }
        writeln!(out)?;
    }
    let n = scenarios.len() + 1;
    writeln!(
        out,
        "▸ Conversation {n}: in Chatwoot — answered, then resolved"
    )?;
    if let Err(e) = chatwoot_conversation(out, &agent, &chatwoot.url()) {
        writeln!(out, "  ({e:#})")?;
        failures.push("in Chatwoot — answered, then resolved");
    }
    writeln!(out)?;
    writeln!(
        out,
        "▸ Conversation {}: in Chatwoot — handed off to a person",
        n + 1
    )?;
    if let Err(e) = chatwoot_hand_off(out, &agent, &chatwoot.url()) {
        writeln!(out, "  ({e:#})")?;
        failures.push("in Chatwoot — handed off to a person");
    }
    writeln!(out)?;
    writeln!(
        out,
        "▸ Conversation {}: in Zendesk — answered, handed off, handed back",
        n + 2
    )?;
    let stand_in = zendesk.url().trim_end_matches("/sc").to_owned();
    if let Err(e) = zendesk_conversation(out, &agent, &stand_in) {
        writeln!(out, "  ({e:#})")?;
        failures.push("in Zendesk — answered, handed off, handed back");
    }
    writeln!(out)?;
    // The Chatwoot stand-in first: stopping lets the events it is still
    // posting to the bridge (e.g. for the private note just written)
    // arrive, rather than meet a bridge that has gone.
    chatwoot.stop();
    zendesk.stop();
    service.stop();
    std::fs::remove_dir_all(&dir).ok();
    if !failures.is_empty() {
        bail!(
            "these conversations did not go as expected: {}",
            failures.join("; ")
        );
    }
    Ok(())
}

/// A customer writes in the Chatwoot stand-in: the agent's answer comes back
/// as the bot's message, and thanks resolve the conversation.
fn chatwoot_conversation(out: &mut dyn Write, agent: &ureq::Agent, chatwoot: &str) -> Result<()> {
    let question = "How long does delivery take?";
    writeln!(out, "  customer  {question}")?;
    let sent = Instant::now();
    let id = stand_in_start(agent, chatwoot, question)?;
    let show = |agent: &ureq::Agent| stand_in_show(agent, chatwoot, id);
    let reply = wait_for(|| {
        let c = show(agent).ok()?;
        c["messages"].as_array()?.iter().find_map(|m| {
            (m["incoming"] == false && m["private"] == false)
                .then(|| m["content"].as_str().map(str::to_owned))
                .flatten()
        })
    })
    .context("no answer in Chatwoot within 15 s")?;
    writeln!(
        out,
        "  agent     {}   ({} ms, posted by the bot)",
        indent(&reply),
        sent.elapsed().as_millis()
    )?;
    let thanks = "Great, thanks!";
    writeln!(out, "  customer  {thanks}")?;
    let sent = Instant::now();
    agent
        .post(&format!("{chatwoot}/stand-in/conversations/{id}/messages"))
        .header("Content-Type", "application/json")
        .send(json!({"content": thanks}).to_string().as_bytes())?;
    wait_for(|| (show(agent).ok()?["status"] == "resolved").then_some(()))
        .context("the conversation was not resolved within 15 s")?;
    writeln!(
        out,
        "  agent     [conversation resolved in Chatwoot]   ({} ms)",
        sent.elapsed().as_millis()
    )?;
    Ok(())
}

/// A customer asks for a person in the Chatwoot stand-in: the agent leaves
/// a private note with the reason and opens the conversation for the team.
fn chatwoot_hand_off(out: &mut dyn Write, agent: &ureq::Agent, chatwoot: &str) -> Result<()> {
    let question = "My parcel arrived damaged and I want to talk to a human.";
    writeln!(out, "  customer  {question}")?;
    let sent = Instant::now();
    let id = stand_in_start(agent, chatwoot, question)?;
    let note = wait_for(|| {
        let c = stand_in_show(agent, chatwoot, id).ok()?;
        if c["status"] != "open" {
            return None;
        }
        c["messages"].as_array()?.iter().find_map(|m| {
            (m["private"] == true)
                .then(|| m["content"].as_str().map(str::to_owned))
                .flatten()
        })
    })
    .context("no hand-off in Chatwoot within 15 s")?;
    writeln!(
        out,
        "  agent     (private note) {}  [conversation open for the team]   ({} ms)",
        indent(&note),
        sent.elapsed().as_millis()
    )?;
    Ok(())
}

/// A customer asks in the Zendesk stand-in and is answered by the bot; asks
/// for a person and control passes to the Agent Workspace; a human closes
/// the ticket, control comes back to the bot, and the next question is the
/// agent's again.
fn zendesk_conversation(out: &mut dyn Write, agent: &ureq::Agent, zendesk: &str) -> Result<()> {
    let post = |path: &str, body: Value| -> Result<Value> {
        let mut r = agent
            .post(&format!("{zendesk}{path}"))
            .header("Content-Type", "application/json")
            .send(body.to_string().as_bytes())?;
        Ok(serde_json::from_slice(&r.body_mut().read_to_vec()?).unwrap_or(Value::Null))
    };
    let show = |id: &str| -> Option<Value> {
        let mut r = agent
            .get(&format!("{zendesk}/stand-in/conversations/{id}"))
            .call()
            .ok()?;
        serde_json::from_slice(&r.body_mut().read_to_vec().ok()?).ok()
    };
    let replies = |id: &str| -> Vec<String> {
        show(id)
            .and_then(|c| c["messages"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter(|m| m["author"] == "business")
            .filter_map(|m| m["text"].as_str().map(str::to_owned))
            .collect()
    };
    let question = "How long does delivery take?";
    writeln!(out, "  customer  {question}")?;
    let sent = Instant::now();
    let id = post("/stand-in/conversations", json!({"text": question}))?["conversation_id"]
        .as_str()
        .context("the stand-in did not start a conversation")?
        .to_owned();
    let reply =
        wait_for(|| replies(&id).into_iter().next()).context("no answer in Zendesk within 15 s")?;
    writeln!(
        out,
        "  agent     {}   ({} ms, posted by the bot)",
        indent(&reply),
        sent.elapsed().as_millis()
    )?;
    let ask = "My parcel arrived damaged and I want to talk to a human.";
    writeln!(out, "  customer  {ask}")?;
    let sent = Instant::now();
    post(
        &format!("/stand-in/conversations/{id}/messages"),
        json!({"text": ask}),
    )?;
    let to = wait_for(|| {
        let c = show(&id)?;
        (c["active"] != "glbridge").then(|| c["active"].as_str().map(str::to_owned))?
    })
    .context("no hand-off in Zendesk within 15 s")?;
    writeln!(
        out,
        "  agent     [control passed to {to}]   ({} ms)",
        sent.elapsed().as_millis()
    )?;
    post(&format!("/stand-in/conversations/{id}/close"), json!({}))?;
    writeln!(
        out,
        "  (a person solves it and closes the ticket: control back to the bot)"
    )?;
    let again = "And how long do returns take?";
    writeln!(out, "  customer  {again}")?;
    // The switchboard's event reaches the bridge first (one delivery at a
    // time, in order).
    let sent = Instant::now();
    post(
        &format!("/stand-in/conversations/{id}/messages"),
        json!({"text": again}),
    )?;
    let second = wait_for(|| replies(&id).get(1).cloned())
        .context("no answer in Zendesk after the hand-back within 15 s")?;
    writeln!(
        out,
        "  agent     {}   ({} ms, posted by the bot)",
        indent(&second),
        sent.elapsed().as_millis()
    )?;
    Ok(())
}

fn stand_in_start(agent: &ureq::Agent, chatwoot: &str, text: &str) -> Result<u64> {
    let started: Value = serde_json::from_slice(
        &agent
            .post(&format!("{chatwoot}/stand-in/conversations"))
            .header("Content-Type", "application/json")
            .send(json!({"content": text}).to_string().as_bytes())?
            .body_mut()
            .read_to_vec()?,
    )?;
    started["conversation_id"]
        .as_u64()
        .context("the stand-in did not start a conversation")
}

fn stand_in_show(agent: &ureq::Agent, chatwoot: &str, id: u64) -> Result<Value> {
    Ok(serde_json::from_slice(
        &agent
            .get(&format!("{chatwoot}/stand-in/conversations/{id}"))
            .call()?
            .body_mut()
            .read_to_vec()?,
    )?)
}

/// Polls `f` for up to 15 s.
fn wait_for<T>(f: impl Fn() -> Option<T>) -> Option<T> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(15) {
        if let Some(v) = f() {
            return Some(v);
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    None
}
