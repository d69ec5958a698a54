//! The deterministic AI agent: what it does with a customer message.

use serde_json::{json, Map, Value};

use crate::search::{self, Document};
use crate::seed::ActionRule;
use crate::state::{ConversationRecord, MessageRecord, State};

/// One thing the agent does, in order.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Step {
    /// `agent.message`.
    Reply {
        /// Text (markdown).
        body: String,
        /// A holding message.
        holding: bool,
        /// Classified intent.
        intent: Option<String>,
    },
    /// `conversation.hand_off`.
    HandOff {
        /// Target id.
        target: Option<String>,
        /// Coded reason.
        reason_code: String,
        /// Human-readable reason.
        reason: String,
    },
    /// `conversation.finished`.
    Finish {
        /// Coded reason.
        reason_code: String,
    },
    /// `action.execute`; the answer becomes a reply.
    Action {
        /// The rule.
        rule: ActionRule,
        /// Parameters sent.
        params: Value,
    },
}

const PERSON_WORDS: &[&str] = &[
    "human",
    "agent",
    "person",
    "someone",
    "somebody",
    "representative",
    "operator",
    "staff",
    "people",
];
const THANKS_WORDS: &[&str] = &["thanks", "thank", "thx", "ty", "bye", "goodbye", "cheers"];

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The agent's answer to `message` in `conversation`.
pub fn respond(
    state: &State,
    conversation: &ConversationRecord,
    message: &MessageRecord,
) -> Vec<Step> {
    let default_target = state.default_target(&conversation.channel);
    let words = words(&message.body);
    let has = |list: &[&str]| words.iter().any(|w| list.contains(&w.as_str()));
    if !message.attachments.is_empty() {
        return vec![Step::HandOff {
            target: default_target,
            reason_code: "attachment".into(),
            reason: "The customer sent an attachment, which the AI agent does not read.".into(),
        }];
    }
    if has(PERSON_WORDS) {
        return vec![Step::HandOff {
            target: default_target,
            reason_code: "customer-request".into(),
            reason: "The customer asked to speak to a person.".into(),
        }];
    }
    if conversation.agent_answered && has(THANKS_WORDS) {
        return vec![
            Step::Reply {
                body: "You're welcome — glad I could help!".into(),
                holding: false,
                intent: None,
            },
            Step::Finish {
                reason_code: "resolved".into(),
            },
        ];
    }
    let text = message.body.to_lowercase();
    if let Some(rule) = state.actions.iter().find(|r| {
        r.keywords
            .iter()
            .any(|k| !k.is_empty() && text.contains(&k.to_lowercase()))
    }) {
        let reference = message
            .body
            .split(|c: char| c.is_whitespace() || matches!(c, ',' | '?' | '!' | '.' | ':'))
            .find(|w| w.chars().any(|c| c.is_ascii_digit()))
            .map(str::to_owned);
        let mut params = json!({"message": message.body});
        if let Some(r) = reference {
            params["reference"] = Value::String(r.trim_start_matches('#').to_owned());
        }
        return vec![
            Step::Reply {
                body: rule.holding.clone(),
                holding: true,
                intent: Some(rule.name.clone()),
            },
            Step::Action {
                rule: rule.clone(),
                params,
            },
        ];
    }
    let mut docs: Vec<Document> = state
        .articles
        .values()
        .filter(|a| usable(a))
        .map(|a| Document {
            id: a.article.id.clone(),
            text: format!("{}\n{}", a.article.title, a.article.body),
        })
        .collect();
    // Live notes are answered from like articles.
    let notes = state.catalog.live_notes();
    docs.extend(notes.iter().map(|(id, title, body)| Document {
        id: format!("note:{id}"),
        text: format!("{title}\n{body}"),
    }));
    let found = search::best_match(&message.body, &docs).and_then(|(id, _)| {
        match id.strip_prefix("note:") {
            Some(note) => notes
                .iter()
                .find(|(n, _, _)| n == note)
                .map(|(_, title, body)| (id.clone(), title.clone(), body.clone())),
            None => state.articles.get(&id).map(|a| {
                (
                    a.article.id.clone(),
                    a.article.title.clone(),
                    a.article.body.clone(),
                )
            }),
        }
    });
    match found {
        Some((id, title, body)) => vec![Step::Reply {
            // The terminology substitutions apply to what the agent writes.
            body: state.catalog.substitute(&format!(
                "{}\n\n_From our help centre: {title}_",
                body.trim()
            )),
            holding: false,
            intent: Some(id),
        }],
        None => vec![Step::HandOff {
            target: default_target,
            reason_code: "no-answer".into(),
            reason: "The AI agent found no help-centre article that answers this.".into(),
        }],
    }
}

/// Published, non-internal, switched on and not deleted.
fn usable(a: &crate::state::ArticleRecord) -> bool {
    use glbridge_guest::model::knowledge::{PublicationStatus, UsageStatus, Visibility};
    !a.deleted
        && a.usage == UsageStatus::On
        && a.article.status == PublicationStatus::Published
        && a.article.visibility != Visibility::Internal
}

/// The reply built from an action's JSON answer.
pub fn action_reply(rule: &ActionRule, answer: &Value) -> String {
    match &rule.reply {
        Some(template) => {
            let fields: Map<String, Value> = answer.as_object().cloned().unwrap_or_default();
            let mut out = template.clone();
            for (k, v) in fields {
                let text = match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                out = out.replace(&format!("{{{{{k}}}}}"), &text);
            }
            out
        }
        None => format!("Here is what I found: {answer}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::ArticleRecord;
    use glbridge_guest::model::conversations::{Attachment, AttachmentType, Status};
    use glbridge_guest::model::knowledge::{Article, PublicationStatus, UsageStatus, Visibility};
    use glbridge_guest::Timestamp;

    fn article(
        id: &str,
        title: &str,
        body: &str,
        visibility: Visibility,
        status: PublicationStatus,
    ) -> ArticleRecord {
        ArticleRecord {
            article: Article {
                id: id.into(),
                title: title.into(),
                description: None,
                body: body.into(),
                topic_id: None,
                author_id: None,
                visibility,
                status,
                data: None,
                created: Timestamp(0),
                last_edited: Timestamp(0),
            },
            usage: UsageStatus::On,
            deleted: false,
        }
    }

    fn state() -> State {
        let mut s = State::default();
        for a in [
            article(
                "returns",
                "Returns",
                "Return any item within 30 days for a refund.",
                Visibility::Public,
                PublicationStatus::Published,
            ),
            article(
                "secret",
                "Refund override",
                "Staff: refund override code is 1234 refund.",
                Visibility::Internal,
                PublicationStatus::Published,
            ),
            article(
                "draft",
                "Gift cards",
                "Gift cards are coming soon.",
                Visibility::Public,
                PublicationStatus::Draft,
            ),
        ] {
            s.articles.insert(a.article.id.clone(), a);
        }
        s.default_targets.insert("*".into(), "support".into());
        s.actions.push(ActionRule {
            name: "order-status".into(),
            keywords: vec!["where is my order".into(), "order status".into()],
            reply: Some("Order {{id}} is {{status}}.".into()),
            holding: "Checking...".into(),
        });
        s
    }

    fn conv(answered: bool) -> ConversationRecord {
        ConversationRecord {
            id: "c".into(),
            customer_id: "u".into(),
            channel: "web".into(),
            created: Timestamp(0),
            updated: Timestamp(0),
            status: Status::Active,
            assignee_type: Some("AI Agent".into()),
            assignee_id: None,
            metadata: None,
            token: None,
            messages: vec![],
            resources: Default::default(),
            events: vec![],
            ratings: vec![],
            event_keys: vec![],
            next_sequence: 1,
            handled: vec![],
            agent_answered: answered,
            latest_intent: None,
            routing: None,
        }
    }

    fn msg(body: &str) -> MessageRecord {
        MessageRecord {
            id: "m".into(),
            body: body.into(),
            participant_id: "u".into(),
            participant_type: "Customer".into(),
            created: Timestamp(0),
            attachments: vec![],
        }
    }

    #[test]
    fn answers_from_published_public_articles_only() {
        let steps = respond(
            &state(),
            &conv(false),
            &msg("Can I get a refund on an item?"),
        );
        assert!(
            matches!(&steps[..], [Step::Reply { body, holding: false, .. }] if body.contains("30 days")),
            "{steps:?}"
        );
        let steps = respond(&state(), &conv(false), &msg("Do you have gift cards?"));
        assert!(
            matches!(&steps[..], [Step::HandOff { reason_code, .. }] if reason_code == "no-answer"),
            "{steps:?}"
        );
    }

    #[test]
    fn hands_off_on_attachments_and_requests_for_a_person() {
        let mut m = msg("refund please");
        m.attachments.push(Attachment {
            kind: AttachmentType::Image,
            file_name: "a.png".into(),
            url: None,
            summary: None,
        });
        assert!(
            matches!(&respond(&state(), &conv(false), &m)[..], [Step::HandOff { reason_code, .. }] if reason_code == "attachment")
        );
        let steps = respond(&state(), &conv(false), &msg("Can I talk to a human?"));
        assert!(
            matches!(&steps[..], [Step::HandOff { reason_code, target: Some(t), .. }] if reason_code == "customer-request" && t == "support")
        );
    }

    #[test]
    fn thanks_after_an_answer_finishes() {
        assert!(matches!(
            respond(&state(), &conv(true), &msg("Thanks, bye!")).last(),
            Some(Step::Finish { .. })
        ));
        assert!(!matches!(
            respond(&state(), &conv(false), &msg("Thanks")).last(),
            Some(Step::Finish { .. })
        ));
    }

    #[test]
    fn actions_hold_then_execute() {
        let steps = respond(&state(), &conv(false), &msg("Where is my order #A-1001?"));
        assert!(matches!(&steps[0], Step::Reply { holding: true, .. }));
        match &steps[1] {
            Step::Action { rule, params } => {
                assert_eq!(rule.name, "order-status");
                assert_eq!(params["reference"], "A-1001");
            }
            other => panic!("{other:?}"),
        }
        let rule = &state().actions[0];
        assert_eq!(
            action_reply(rule, &json!({"id": "A-1001", "status": "shipped"})),
            "Order A-1001 is shipped."
        );
    }
}
