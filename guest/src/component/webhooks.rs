//! The `verifier` world's export, `webhooks`: sign, verify and parse.

use super::exports::gradient_labs::bridge::webhooks as wweb;
use super::{clock, error, json_out, wt, Component};
use crate::time::Timestamp;
use crate::webhook::{self, event as ev};

fn webhook_error(e: webhook::WebhookError) -> wweb::WebhookError {
    use webhook::WebhookError as E;
    match e {
        E::MalformedHeader(m) => wweb::WebhookError::MalformedHeader(m),
        E::SignatureMismatch => wweb::WebhookError::SignatureMismatch,
        E::TimestampOutOfRange(s) => wweb::WebhookError::TimestampOutOfRange(s),
        E::InvalidEnvelope(m) => wweb::WebhookError::InvalidEnvelope(m),
    }
}

fn wconversation(c: ev::WebhookConversation) -> wweb::WebhookConversation {
    wweb::WebhookConversation {
        id: c.id,
        customer_id: c.customer_id,
        metadata: c.metadata.as_ref().map(json_out),
    }
}

pub(super) fn event_out(e: ev::WebhookEvent) -> wweb::Event {
    use ev::EventData as D;
    let data = match e.data {
        D::AgentMessage(m) => wweb::EventData::AgentMessage(wweb::AgentMessage {
            conversation: wconversation(m.conversation),
            body: m.body,
            is_holding: m.is_holding,
            intent: m.intent,
            total: m.total,
            sequence: m.sequence,
            last_customer_message_id: m.last_customer_message_id,
        }),
        D::HandOff(h) => wweb::EventData::HandOff(wweb::HandOff {
            conversation: wconversation(h.conversation),
            target: h.target,
            reason_code: h.reason_code,
            reason: h.reason,
            note: h.note,
            intent: h.intent,
        }),
        D::Finished(f) => wweb::EventData::Finished(wweb::Finished {
            conversation: wconversation(f.conversation),
            reason_code: f.reason_code,
            intent: f.intent,
        }),
        D::ActionExecute(a) => wweb::EventData::ActionExecute(wweb::ActionExecute {
            conversation: wconversation(a.conversation),
            action: a.action,
            params: json_out(&a.params),
            async_tool_execution_id: a.async_tool_execution_id,
        }),
        D::ResourcePull(r) => wweb::EventData::ResourcePull(wweb::ResourcePull {
            conversation: wconversation(r.conversation),
            resource_type: r.resource_type,
        }),
        // The untyped kinds are the raw data itself: no need to encode again.
        D::BackOfficeTaskComplete(_) => {
            wweb::EventData::BackOfficeTaskComplete(raw_out(&e.raw_data))
        }
        D::BackOfficeTaskHandOff(_) => wweb::EventData::BackOfficeTaskHandOff(raw_out(&e.raw_data)),
        D::BackOfficeTaskFail(_) => wweb::EventData::BackOfficeTaskFail(raw_out(&e.raw_data)),
        D::Unknown(_) => wweb::EventData::Unknown(raw_out(&e.raw_data)),
    };
    wweb::Event {
        id: e.id,
        event_type: e.event_type,
        sequence_number: e.sequence_number,
        timestamp: e.timestamp.0,
        conversation_id: e.conversation_id,
        data,
        raw_data: e.raw_data.into_string(),
        token: e.token,
    }
}

fn raw_out(raw: &webhook::RawJson) -> String {
    raw.get().to_owned()
}

/// Events crossing back in are re-read from their raw data, so the library
/// sees exactly what was parsed the first time.
pub(super) fn event_in(e: wweb::Event) -> Result<ev::WebhookEvent, wt::Error> {
    #[derive(serde::Serialize)]
    struct Envelope<'a> {
        id: &'a str,
        #[serde(rename = "type")]
        event_type: &'a str,
        sequence_number: u64,
        timestamp: Timestamp,
        data: &'a serde_json::value::RawValue,
    }
    let raw = crate::validate::raw_json("raw_data", &e.raw_data).map_err(error)?;
    let bytes = serde_json::to_vec(&Envelope {
        id: &e.id,
        event_type: &e.event_type,
        sequence_number: e.sequence_number,
        timestamp: Timestamp(e.timestamp),
        data: raw,
    })
    .map_err(|err| {
        wt::Error::InvalidArgument(wt::InvalidArgument {
            field: "event".into(),
            reason: err.to_string(),
        })
    })?;
    webhook::parse(&bytes, e.token.as_deref()).map_err(|err| {
        wt::Error::InvalidArgument(wt::InvalidArgument {
            field: "event".into(),
            reason: err.to_string(),
        })
    })
}

pub(super) fn now_secs(now: Option<i64>) -> i64 {
    Timestamp(now.unwrap_or_else(clock::now)).secs()
}

impl wweb::Guest for Component {
    fn sign(signing_key: String, timestamp_secs: i64, body: Vec<u8>) -> String {
        webhook::sign(&signing_key, timestamp_secs, &body)
    }

    fn verify(
        signing_key: String,
        header: String,
        body: Vec<u8>,
        now: Option<i64>,
        leeway: Option<u32>,
    ) -> Result<(), wweb::WebhookError> {
        let leeway = leeway.unwrap_or(webhook::DEFAULT_LEEWAY_SECS);
        webhook::verify(&signing_key, &header, &body, now_secs(now), leeway).map_err(webhook_error)
    }

    fn parse(body: Vec<u8>, token: Option<String>) -> Result<wweb::Event, wweb::WebhookError> {
        webhook::parse(&body, token.as_deref())
            .map(event_out)
            .map_err(webhook_error)
    }

    fn verify_and_parse(
        signing_key: String,
        header: String,
        token: Option<String>,
        body: Vec<u8>,
        now: Option<i64>,
        leeway: Option<u32>,
    ) -> Result<wweb::Event, wweb::WebhookError> {
        let leeway = leeway.unwrap_or(webhook::DEFAULT_LEEWAY_SECS);
        webhook::verify_and_parse(
            &signing_key,
            &header,
            token.as_deref(),
            &body,
            now_secs(now),
            leeway,
        )
        .map(event_out)
        .map_err(webhook_error)
    }

    fn event_json(event: wweb::Event) -> String {
        match event_in(event) {
            Ok(e) => e.to_json().to_string(),
            Err(_) => "null".to_owned(),
        }
    }
}
