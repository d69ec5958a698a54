//! The wit-bindgen glue: maps WIT types to the library's and back, and the
//! imports to the [`crate::env`] traits. No protocol logic lives here.

use std::cell::RefCell;

use serde_json::Value;

use crate::env::{Clock, Store, StoreError, Transport};
use crate::error::Error as LibError;
use crate::http::{HttpRequest, HttpResponse, Method as LibMethod, TransportError};
use crate::model::{self, conversations as conv, knowledge as know, management as mgmt};
use crate::operation::{Operation, Output};
use crate::time::Timestamp;
use crate::webhook::{self, event as ev, sequencer as seq};

wit_bindgen::generate!({
    path: "../wit",
    world: "bridge",
});

use exports::gradient_labs::bridge::client as wclient;
use exports::gradient_labs::bridge::conversations as wconv;
use exports::gradient_labs::bridge::knowledge as wknow;
use exports::gradient_labs::bridge::management as wmgmt;
use exports::gradient_labs::bridge::protocol as wproto;
use exports::gradient_labs::bridge::webhooks as wweb;
use gradient_labs::bridge::{clock, http as whttp, store as wstore, types as wt};

mod admin;

struct Component;
export!(Component);

// ---------------------------------------------------------------- imports

struct Imports;

impl Transport for Imports {
    fn send(&self, r: &HttpRequest) -> Result<HttpResponse, TransportError> {
        whttp::send(&request_to_wit(r.clone()))
            .map(response_from_wit)
            .map_err(transport_error_from_wit)
    }
}

impl Clock for Imports {
    fn now(&self) -> Timestamp {
        Timestamp(clock::now())
    }
    fn sleep(&self, nanos: u64) {
        clock::sleep(nanos)
    }
}

fn store_error(e: wstore::Error) -> StoreError {
    match e {
        wstore::Error::Unavailable(m) => StoreError(m),
        wstore::Error::LockTimeout(m) => StoreError(format!("lock timeout: {m}")),
    }
}

impl Store for Imports {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        wstore::get(key).map_err(store_error)
    }
    fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool, StoreError> {
        wstore::compare_and_swap(key, expected, new).map_err(store_error)
    }
    fn list_keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        wstore::list_keys(prefix).map_err(store_error)
    }
    fn lock(&self, name: &str) -> Result<(), StoreError> {
        wstore::lock(name).map_err(store_error)
    }
    fn rollback(&self) {
        wstore::rollback()
    }
}

fn request_to_wit(r: HttpRequest) -> whttp::Request {
    whttp::Request {
        method: match r.method {
            LibMethod::Get => whttp::Method::Get,
            LibMethod::Post => whttp::Method::Post,
            LibMethod::Put => whttp::Method::Put,
            LibMethod::Delete => whttp::Method::Delete,
        },
        url: r.url,
        headers: r.headers,
        body: r.body,
        timeout_ms: r.timeout_ms,
    }
}

fn transport_error_from_wit(e: whttp::Error) -> TransportError {
    match e {
        whttp::Error::Timeout => TransportError::Timeout,
        whttp::Error::Connection(m) => TransportError::Connection(m),
        whttp::Error::InvalidUrl(m) => TransportError::InvalidUrl(m),
    }
}

fn response_from_wit(r: whttp::Response) -> HttpResponse {
    HttpResponse {
        status: r.status,
        headers: r.headers,
        body: r.body,
    }
}

// ---------------------------------------------------------------- shared mapping

fn error(e: LibError) -> wt::Error {
    match e {
        LibError::InvalidArgument { field, reason } => {
            wt::Error::InvalidArgument(wt::InvalidArgument { field, reason })
        }
        LibError::Api(a) => wt::Error::Api(wt::ApiError {
            status: a.status,
            code: a.code,
            message: a.message,
            trace_id: a.trace_id,
        }),
        LibError::Transport { message } => wt::Error::Transport(message),
        LibError::InvalidResponse { message } => wt::Error::InvalidResponse(message),
        LibError::Store { message } => wt::Error::Store(message),
    }
}

fn ts(t: Option<i64>) -> Option<Timestamp> {
    t.map(Timestamp)
}

fn json_in(field: &str, text: Option<String>) -> Result<Option<Value>, LibError> {
    text.map(|t| crate::validate::json(field, &t)).transpose()
}

fn json_out(v: &Value) -> String {
    v.to_string()
}

/// Maps a WIT enum onto the library's, both ways, variant by variant.
macro_rules! map_enum {
    ($wit:ty, $lib:ty, { $($v:ident),* $(,)? }) => {
        impl From<$wit> for $lib {
            fn from(v: $wit) -> Self { match v { $(<$wit>::$v => <$lib>::$v),* } }
        }
        impl From<$lib> for $wit {
            fn from(v: $lib) -> Self { match v { $(<$lib>::$v => <$wit>::$v),* } }
        }
    };
}

map_enum!(wt::Channel, model::Channel, { Web, Email, Voice });
map_enum!(wt::ParticipantType, model::ParticipantType, { Customer, Agent, Bot, AiAgent });
map_enum!(wconv::Status, conv::Status, { Observing, Active, Cancelled, Finished, Failed });
map_enum!(wconv::AttachmentType, conv::AttachmentType, { Image, File });
map_enum!(wconv::EventType, conv::EventType, { Typing, Delivered, Read, Join, Leave, InternalNote });
map_enum!(wconv::FinishReason, conv::FinishReason, { CustomerEndedChat, CustomerUnresponsive });
map_enum!(wknow::Visibility, know::Visibility, { Public, Users, Internal });
map_enum!(wknow::PublicationStatus, know::PublicationStatus, { Draft, Published });
map_enum!(wknow::UsageStatus, know::UsageStatus, { On, Off });
map_enum!(wmgmt::ResourceMode, mgmt::ResourceMode, { Push, Pull });

fn config(c: wclient::Config) -> crate::client::Config {
    crate::client::Config {
        base_url: c.base_url,
        api_key: crate::client::Secret::new(c.api_key),
        user_agent: c.user_agent,
        timeout_ms: c.timeout_ms,
        max_body_bytes: c.max_body_bytes,
        retry: crate::retry::RetryPolicy {
            max_attempts: c.retry.max_attempts,
            initial_backoff_ms: c.retry.initial_backoff_ms,
            max_backoff_ms: c.retry.max_backoff_ms,
            max_retry_after_ms: c.retry.max_retry_after_ms,
            jitter_seed: c.retry.jitter_seed,
        },
    }
}

// ---------------------------------------------------------------- client

/// The exported `client` resource.
pub struct BridgeClient(RefCell<crate::client::Client>);

impl BridgeClient {
    fn run(&self, op: Operation) -> Result<Output, wt::Error> {
        self.0
            .borrow_mut()
            .run(&Imports, &Imports, &op)
            .map_err(error)
    }

    fn run_all_pages(&self, op: &Operation) -> Result<Output, wt::Error> {
        self.0
            .borrow_mut()
            .run_all_pages(&Imports, &Imports, op)
            .map_err(error)
    }

    /// Runs the operation called `name` and reads its answer with `read`.
    fn call_as<T>(
        &self,
        name: &str,
        path: &[(&str, &str)],
        body: &impl serde::Serialize,
        read: fn(&crate::http::HttpResponse) -> crate::error::Result<T>,
    ) -> Result<T, wt::Error> {
        let op = Operation::named(name, path, body).map_err(error)?;
        let response = self
            .0
            .borrow_mut()
            .send(&Imports, &Imports, &op)
            .map_err(error)?;
        read(&response).map_err(error)
    }

    /// Runs the operation called `name`, which answers nothing.
    fn call_unit(
        &self,
        name: &str,
        path: &[(&str, &str)],
        body: &impl serde::Serialize,
    ) -> Result<(), wt::Error> {
        self.run(Operation::named(name, path, body).map_err(error)?)
            .map(|_| ())
    }
}

impl wclient::Guest for Component {
    type Client = BridgeClient;
}

impl wclient::GuestClient for BridgeClient {
    fn open(c: wclient::Config) -> Result<wclient::Client, wt::Error> {
        let client = crate::client::Client::open(config(c)).map_err(error)?;
        Ok(wclient::Client::new(BridgeClient(RefCell::new(client))))
    }

    fn call(&self, operation: String, params: String) -> Result<String, wt::Error> {
        self.0
            .borrow_mut()
            .call(&Imports, &Imports, &operation, &params)
            .map_err(error)
    }
}

/// Runs the operation called `name` on one conversation, answering nothing.
fn on_conversation(
    c: wclient::ClientBorrow<'_>,
    name: &str,
    conversation_id: &str,
    body: &impl serde::Serialize,
) -> Result<(), wt::Error> {
    with(c, |c| {
        c.call_unit(name, &[("conversation_id", conversation_id)], body)
    })
}

fn with<T>(
    c: wclient::ClientBorrow<'_>,
    f: impl FnOnce(&BridgeClient) -> Result<T, wt::Error>,
) -> Result<T, wt::Error> {
    f(c.get::<BridgeClient>())
}

// ---------------------------------------------------------------- conversations

fn conversation_out(c: conv::Conversation) -> wconv::Conversation {
    wconv::Conversation {
        id: c.id,
        customer_id: c.customer_id,
        channel: c.channel,
        created: c.created.map(|t| t.0),
        updated: c.updated.map(|t| t.0),
        status: c.status.into(),
        agent_is_active: c.agent_is_active,
        latest_intent: c.latest_intent,
        metadata: c.metadata.as_ref().map(json_out),
    }
}

fn assign_in(p: wconv::AssignParams) -> conv::AssignParams {
    conv::AssignParams {
        assignee_type: p.assignee_type.into(),
        assignee_id: p.assignee_id,
        timestamp: ts(p.timestamp),
        reason: p.reason,
    }
}

fn conversation_result(
    client: &BridgeClient,
    name: &str,
    path: &[(&str, &str)],
    body: &impl serde::Serialize,
) -> Result<wconv::Conversation, wt::Error> {
    client
        .call_as(
            name,
            path,
            body,
            crate::operation::read::<conv::Conversation>,
        )
        .map(conversation_out)
}

impl wconv::Guest for Component {
    fn start(
        c: wclient::ClientBorrow<'_>,
        p: wconv::StartParams,
    ) -> Result<wconv::Conversation, wt::Error> {
        let params = conv::StartParams {
            id: p.id,
            customer_id: p.customer_id,
            channel: p.channel.into(),
            assignee_id: p.assignee_id,
            assignee_type: p.assignee_type.map(Into::into),
            created: ts(p.created),
            metadata: json_in("metadata", p.metadata).map_err(error)?,
            resources: json_in("resources", p.resources).map_err(error)?,
            conversation_token: p.conversation_token,
            traffic_group_id: p.traffic_group_id,
            customer_support_platform_identifiers: json_in(
                "customer_support_platform_identifiers",
                p.customer_support_platform_identifiers,
            )
            .map_err(error)?,
        };
        with(c, |c| {
            conversation_result(c, "conversations.start", &[], &params)
        })
    }

    fn read(
        c: wclient::ClientBorrow<'_>,
        conversation_id: String,
    ) -> Result<wconv::Conversation, wt::Error> {
        with(c, |c| {
            conversation_result(
                c,
                "conversations.read",
                &[("conversation_id", &conversation_id)],
                &(),
            )
        })
    }

    fn read_legacy(
        c: wclient::ClientBorrow<'_>,
        conversation_id: String,
    ) -> Result<wconv::Conversation, wt::Error> {
        with(c, |c| {
            conversation_result(
                c,
                "conversations.read-legacy",
                &[("conversation_id", &conversation_id)],
                &(),
            )
        })
    }

    fn add_message(
        c: wclient::ClientBorrow<'_>,
        conversation_id: String,
        p: wconv::MessageParams,
    ) -> Result<wconv::Message, wt::Error> {
        let params = conv::MessageParams {
            id: p.id,
            body: p.body,
            participant_id: p.participant_id,
            participant_type: p.participant_type.into(),
            created: ts(p.created),
            subject: p.subject,
            attachments: p
                .attachments
                .into_iter()
                .map(|a| conv::Attachment {
                    kind: a.kind.into(),
                    file_name: a.file_name,
                    url: a.url,
                    summary: a.summary,
                })
                .collect(),
            metadata: json_in("metadata", p.metadata).map_err(error)?,
            conversation_token: p.conversation_token,
        };
        with(c, |c| {
            let m = c.call_as(
                "conversations.add-message",
                &[("conversation_id", &conversation_id)],
                &params,
                crate::operation::read::<conv::Message>,
            )?;
            Ok(wconv::Message {
                id: m.id,
                body: m.body,
                participant_id: m.participant_id,
                participant_type: m.participant_type,
                created: m.created.map(|t| t.0),
            })
        })
    }

    fn add_event(
        c: wclient::ClientBorrow<'_>,
        conversation_id: String,
        p: wconv::EventParams,
    ) -> Result<(), wt::Error> {
        let params = conv::EventParams {
            kind: p.kind.into(),
            participant_id: p.participant_id,
            participant_type: p.participant_type.into(),
            message_id: p.message_id,
            timestamp: ts(p.timestamp),
            idempotency_key: p.idempotency_key,
            body: p.body,
        };
        on_conversation(c, "conversations.add-event", &conversation_id, &params)
    }

    fn assign(
        c: wclient::ClientBorrow<'_>,
        conversation_id: String,
        p: wconv::AssignParams,
    ) -> Result<(), wt::Error> {
        on_conversation(c, "conversations.assign", &conversation_id, &assign_in(p))
    }

    fn finish(
        c: wclient::ClientBorrow<'_>,
        conversation_id: String,
        p: wconv::FinishParams,
    ) -> Result<(), wt::Error> {
        let params = conv::FinishParams {
            timestamp: ts(p.timestamp),
            reason: p.reason,
            reason_code: p.reason_code.map(Into::into),
        };
        on_conversation(c, "conversations.finish", &conversation_id, &params)
    }

    fn end(
        c: wclient::ClientBorrow<'_>,
        conversation_id: String,
        timestamp: Option<i64>,
    ) -> Result<(), wt::Error> {
        let params = conv::EndParams {
            timestamp: ts(timestamp),
        };
        on_conversation(c, "conversations.end", &conversation_id, &params)
    }

    fn cancel(
        c: wclient::ClientBorrow<'_>,
        conversation_id: String,
        p: wconv::CancelParams,
    ) -> Result<(), wt::Error> {
        let params = conv::CancelParams {
            timestamp: ts(p.timestamp),
            reason: p.reason,
        };
        on_conversation(c, "conversations.cancel", &conversation_id, &params)
    }

    fn resume(
        c: wclient::ClientBorrow<'_>,
        conversation_id: String,
        p: wconv::AssignParams,
    ) -> Result<(), wt::Error> {
        on_conversation(c, "conversations.resume", &conversation_id, &assign_in(p))
    }

    fn rate(
        c: wclient::ClientBorrow<'_>,
        conversation_id: String,
        p: wconv::RatingParams,
    ) -> Result<(), wt::Error> {
        let params = conv::RatingParams {
            kind: p.kind,
            value: p.value,
            max_value: p.max_value,
            min_value: p.min_value,
            comments: p.comments,
            timestamp: ts(p.timestamp),
        };
        on_conversation(c, "conversations.rate", &conversation_id, &params)
    }

    fn push_resource(
        c: wclient::ClientBorrow<'_>,
        conversation_id: String,
        name: String,
        document: String,
    ) -> Result<(), wt::Error> {
        let document = crate::validate::json("document", &document).map_err(error)?;
        with(c, |c| {
            c.call_unit(
                "conversations.push-resource",
                &[("conversation_id", &conversation_id), ("name", &name)],
                &document,
            )
        })
    }

    fn return_async_tool_result(
        c: wclient::ClientBorrow<'_>,
        conversation_id: String,
        async_tool_execution_id: String,
        payload: String,
    ) -> Result<(), wt::Error> {
        admin::return_async_tool_result(c, conversation_id, async_tool_execution_id, payload)
    }

    fn delete(c: wclient::ClientBorrow<'_>, conversation_id: String) -> Result<(), wt::Error> {
        admin::delete(c, conversation_id)
    }

    fn upload_memories(
        c: wclient::ClientBorrow<'_>,
        conversation_id: String,
        idempotency_key: String,
        memories: Vec<String>,
        created_at_keys: Vec<String>,
    ) -> Result<wconv::MemoryUpload, wt::Error> {
        admin::upload_memories(
            c,
            conversation_id,
            idempotency_key,
            memories,
            created_at_keys,
        )
    }

    fn create_customer_memories(
        c: wclient::ClientBorrow<'_>,
        customer_id: String,
        memories: Vec<wconv::CustomerMemory>,
    ) -> Result<(), wt::Error> {
        admin::create_customer_memories(c, customer_id, memories)
    }
}

// ---------------------------------------------------------------- knowledge

impl wknow::Guest for Component {
    fn upsert_article(c: wclient::ClientBorrow<'_>, a: wknow::Article) -> Result<(), wt::Error> {
        let article = know::Article {
            id: a.id,
            title: a.title,
            description: a.description,
            body: a.body,
            topic_id: a.topic_id,
            author_id: a.author_id,
            visibility: a.visibility.into(),
            status: a.status.into(),
            data: json_in("data", a.data).map_err(error)?,
            created: Timestamp(a.created),
            last_edited: Timestamp(a.last_edited),
        };
        with(c, |c| {
            c.call_unit("knowledge.upsert-article", &[], &article)
        })
    }

    fn delete_article(c: wclient::ClientBorrow<'_>, id: String) -> Result<(), wt::Error> {
        with(c, |c| {
            c.call_unit("knowledge.delete-article", &[("id", &id)], &())
        })
    }

    fn set_article_usage(
        c: wclient::ClientBorrow<'_>,
        id: String,
        usage: wknow::UsageStatus,
    ) -> Result<(), wt::Error> {
        with(c, |c| {
            c.call_unit(
                "knowledge.set-article-usage",
                &[("id", &id)],
                &serde_json::json!({ "usage_status": know::UsageStatus::from(usage) }),
            )
        })
    }

    fn upsert_topic(c: wclient::ClientBorrow<'_>, t: wknow::Topic) -> Result<(), wt::Error> {
        let topic = know::Topic {
            id: t.id,
            parent_id: t.parent_id,
            name: t.name,
            description: t.description,
            visibility: t.visibility.into(),
            status: t.status.into(),
            data: json_in("data", t.data).map_err(error)?,
            created: Timestamp(t.created),
            last_edited: Timestamp(t.last_edited),
        };
        with(c, |c| c.call_unit("knowledge.upsert-topic", &[], &topic))
    }

    fn list_topics(
        c: wclient::ClientBorrow<'_>,
        support_platform: Option<String>,
    ) -> Result<Vec<wknow::TopicInfo>, wt::Error> {
        admin::list_topics(c, support_platform)
    }

    fn read_topic(
        c: wclient::ClientBorrow<'_>,
        id: String,
        support_platform: Option<String>,
    ) -> Result<wknow::TopicInfo, wt::Error> {
        admin::read_topic(c, id, support_platform)
    }
}

// ---------------------------------------------------------------- management

fn resource_type_out(r: mgmt::ResourceType) -> wmgmt::ResourceType {
    wmgmt::ResourceType {
        name: r.name,
        display_name: r.display_name,
        description: r.description,
        mode: r.mode.into(),
        pull_config: r.pull_config.as_ref().map(json_out),
    }
}

impl wmgmt::Guest for Component {
    fn upsert_hand_off_target(
        c: wclient::ClientBorrow<'_>,
        t: wmgmt::HandOffTarget,
    ) -> Result<(), wt::Error> {
        with(c, |c| {
            c.call_unit(
                "management.upsert-hand-off-target",
                &[],
                &mgmt::HandOffTarget {
                    id: t.id,
                    name: t.name,
                },
            )
        })
    }

    fn list_hand_off_targets(
        c: wclient::ClientBorrow<'_>,
    ) -> Result<Vec<wmgmt::HandOffTarget>, wt::Error> {
        with(c, |c| {
            let targets = c.call_as(
                "management.list-hand-off-targets",
                &[],
                &(),
                crate::operation::read_hand_off_targets,
            )?;
            Ok(targets
                .into_iter()
                .map(|t| wmgmt::HandOffTarget {
                    id: t.id,
                    name: t.name,
                })
                .collect())
        })
    }

    fn delete_hand_off_target(c: wclient::ClientBorrow<'_>, id: String) -> Result<(), wt::Error> {
        with(c, |c| {
            c.call_unit(
                "management.delete-hand-off-target",
                &[],
                &serde_json::json!({ "id": id }),
            )
        })
    }

    fn set_default_hand_off_target(
        c: wclient::ClientBorrow<'_>,
        id: String,
        channel: wt::Channel,
    ) -> Result<(), wt::Error> {
        with(c, |c| {
            c.call_unit(
                "management.set-default-hand-off-target",
                &[],
                &serde_json::json!({ "id": id, "channel": crate::model::Channel::from(channel) }),
            )
        })
    }

    fn get_default_hand_off_target(
        c: wclient::ClientBorrow<'_>,
        channel: wt::Channel,
    ) -> Result<Option<String>, wt::Error> {
        with(c, |c| {
            c.call_as(
                "management.get-default-hand-off-target",
                &[],
                &serde_json::json!({ "channel": crate::model::Channel::from(channel) }),
                crate::operation::read_default_target,
            )
        })
    }

    fn put_secret(
        c: wclient::ClientBorrow<'_>,
        name: String,
        value: String,
    ) -> Result<(), wt::Error> {
        with(c, |c| {
            c.call_unit(
                "management.put-secret",
                &[("name", &name)],
                &serde_json::json!({ "value": value }),
            )
        })
    }

    fn list_secrets(c: wclient::ClientBorrow<'_>) -> Result<Vec<wmgmt::SecretInfo>, wt::Error> {
        with(c, |c| {
            let secrets = c.call_as(
                "management.list-secrets",
                &[],
                &(),
                crate::operation::read_secrets,
            )?;
            Ok(secrets
                .into_iter()
                .map(|s| wmgmt::SecretInfo {
                    name: s.name,
                    created: s.created.map(|t| t.0),
                    updated: s.updated.map(|t| t.0),
                })
                .collect())
        })
    }

    fn delete_secret(c: wclient::ClientBorrow<'_>, name: String) -> Result<(), wt::Error> {
        with(c, |c| {
            c.call_unit("management.delete-secret", &[("name", &name)], &())
        })
    }

    fn put_resource_type(
        c: wclient::ClientBorrow<'_>,
        r: wmgmt::ResourceType,
    ) -> Result<(), wt::Error> {
        let rt = mgmt::ResourceType {
            name: r.name,
            display_name: r.display_name,
            description: r.description,
            mode: r.mode.into(),
            pull_config: json_in("pull_config", r.pull_config).map_err(error)?,
        };
        with(c, |c| {
            c.call_unit(
                "management.put-resource-type",
                &[("name", &rt.name.clone())],
                &rt,
            )
        })
    }

    fn get_resource_type(
        c: wclient::ClientBorrow<'_>,
        name: String,
    ) -> Result<wmgmt::ResourceType, wt::Error> {
        with(c, |c| {
            c.call_as(
                "management.get-resource-type",
                &[("name", &name)],
                &(),
                crate::operation::read::<mgmt::ResourceType>,
            )
            .map(resource_type_out)
        })
    }

    fn list_resource_types(
        c: wclient::ClientBorrow<'_>,
    ) -> Result<Vec<wmgmt::ResourceType>, wt::Error> {
        with(c, |c| {
            let types = c.call_as(
                "management.list-resource-types",
                &[],
                &(),
                crate::operation::read_resource_types,
            )?;
            Ok(types.into_iter().map(resource_type_out).collect())
        })
    }

    fn delete_resource_type(c: wclient::ClientBorrow<'_>, name: String) -> Result<(), wt::Error> {
        with(c, |c| {
            c.call_unit("management.delete-resource-type", &[("name", &name)], &())
        })
    }

    fn ip_addresses(c: wclient::ClientBorrow<'_>) -> Result<wmgmt::IpAddressList, wt::Error> {
        with(c, |c| {
            let ip = c.call_as(
                "management.ip-addresses",
                &[],
                &(),
                crate::operation::read::<mgmt::IpAddresses>,
            )?;
            Ok(wmgmt::IpAddressList {
                api: ip.api,
                egress: ip.egress,
            })
        })
    }
}

// ---------------------------------------------------------------- webhooks

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

fn event_out(e: ev::WebhookEvent) -> wweb::Event {
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
fn event_in(e: wweb::Event) -> Result<ev::WebhookEvent, wt::Error> {
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

fn released_out(r: seq::Released) -> wweb::Released {
    wweb::Released {
        event: event_out(r.event),
        gap: r.gap.map(|g| wweb::Gap {
            first_missing: g.first_missing,
            last_missing: g.last_missing,
        }),
        late: r.late,
    }
}

fn now_secs(now: Option<i64>) -> i64 {
    Timestamp(now.unwrap_or_else(clock::now)).secs()
}

/// The exported `sequencer` resource.
pub struct BridgeSequencer(seq::Sequencer);

impl wweb::GuestSequencer for BridgeSequencer {
    fn new(namespace: String, max_hold_ns: u64, first_sequence_number: u64) -> Self {
        BridgeSequencer(seq::Sequencer::new(
            namespace,
            max_hold_ns,
            first_sequence_number,
        ))
    }

    fn offer(&self, event: wweb::Event) -> Result<wweb::OfferOutcome, wt::Error> {
        let event = event_in(event)?;
        let outcome = self
            .0
            .offer(&Imports, event, Imports.now())
            .map_err(error)?;
        Ok(wweb::OfferOutcome {
            duplicate: outcome.duplicate,
            released: outcome.released.into_iter().map(released_out).collect(),
        })
    }

    fn poll(&self) -> Result<Vec<wweb::Released>, wt::Error> {
        let released = self.0.poll(&Imports, Imports.now()).map_err(error)?;
        Ok(released.into_iter().map(released_out).collect())
    }
}

impl wweb::Guest for Component {
    type Sequencer = BridgeSequencer;

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

// ---------------------------------------------------------------- protocol

impl wproto::Guest for Component {
    fn version() -> String {
        env!("CARGO_PKG_VERSION").to_owned()
    }

    fn operations() -> Vec<String> {
        crate::operation::names().map(str::to_owned).collect()
    }

    fn describe(operation: String) -> Result<String, wt::Error> {
        crate::protocol::describe(&operation).map_err(error)
    }

    fn build_request(
        c: wclient::Config,
        operation: String,
        params: String,
    ) -> Result<whttp::Request, wt::Error> {
        let op = crate::protocol::operation(&operation, &params).map_err(error)?;
        op.build(&config(c)).map(request_to_wit).map_err(error)
    }

    fn parse_response(operation: String, response: whttp::Response) -> Result<String, wt::Error> {
        crate::protocol::parse_response(&operation, &response_from_wit(response)).map_err(error)
    }

    fn retry_delay(
        c: wclient::Config,
        operation: String,
        params: String,
        attempt: u32,
        outcome: Result<whttp::Response, whttp::Error>,
        jitter: f64,
    ) -> Option<u64> {
        let op = crate::protocol::operation(&operation, &params).ok()?;
        let outcome = outcome
            .map(response_from_wit)
            .map_err(transport_error_from_wit);
        config(c)
            .retry
            .delay_ns(op.is_idempotent(), attempt, outcome.as_ref(), jitter)
    }
}

// ---------------------------------------------------------------- bridge

use crate::bridge as core;
use exports::gradient_labs::bridge::bridge_core as wbridge;

fn core_config(c: wbridge::Config) -> core::Config {
    core::Config {
        client: config(c.client),
        signing_key: crate::client::Secret::new(c.signing_key),
        actions: c
            .actions
            .into_iter()
            .map(|a| core::ActionEndpoint {
                name: a.name,
                url: a.url,
                headers: a.headers,
                timeout_ms: a.timeout_ms,
            })
            .collect(),
        max_hold_ms: c.max_hold_ms,
        leeway_secs: c.leeway_secs,
    }
}

fn outcome_out(o: core::Outcome) -> wbridge::Outcome {
    use core::Outcome as O;
    use wbridge::Outcome as W;
    match o {
        O::Replied => W::Replied,
        O::Holding => W::Holding,
        O::HandOff => W::HandOff,
        O::Finished => W::Finished,
        O::Unauthorized => W::Unauthorized,
        O::BadRequest => W::BadRequest,
        O::UpstreamError => W::UpstreamError,
        O::Accepted => W::Accepted,
        O::Duplicate => W::Duplicate,
        O::BadSignature => W::BadSignature,
        O::BadEnvelope => W::BadEnvelope,
        O::Action => W::Action,
        O::ActionUnconfigured => W::ActionUnconfigured,
        O::ActionFailed => W::ActionFailed,
        O::StoreError => W::StoreError,
    }
}

fn answer_out(a: core::Answer) -> wbridge::Answer {
    wbridge::Answer {
        status: a.status,
        body: json_out(&a.body),
        outcome: outcome_out(a.outcome),
        wake: a.wake,
        queue_change: a.queue_change,
        work: a.work,
    }
}

const IO: core::Io<'static> = core::Io {
    http: &Imports,
    clock: &Imports,
    store: &Imports,
};

fn inbound_answer_out(a: core::inbound::Answer) -> wbridge::InboundAnswer {
    use core::inbound::Outcome as O;
    use wbridge::InboundOutcome as W;
    wbridge::InboundAnswer {
        status: a.status,
        body: json_out(&a.body),
        outcome: match a.outcome {
            O::Accepted => W::Accepted,
            O::Duplicate => W::Duplicate,
            O::Ignored => W::Ignored,
            O::Unauthorized => W::Unauthorized,
            O::BadRequest => W::BadRequest,
            O::StoreError => W::StoreError,
        },
        work: a.work,
    }
}

/// The exported `bridge.bridge` resource.
pub struct BridgeResource(RefCell<core::Bridge>);

impl BridgeResource {
    /// Runs `f` on the bridge a borrowed handle names.
    fn with<R>(b: wbridge::BridgeBorrow<'_>, f: impl FnOnce(&mut core::Bridge) -> R) -> R {
        f(&mut b.get::<BridgeResource>().0.borrow_mut())
    }
}

impl wbridge::Guest for Component {
    type Bridge = BridgeResource;
}

impl wbridge::GuestBridge for BridgeResource {
    fn open(c: wbridge::Config) -> Result<wbridge::Bridge, wt::Error> {
        let bridge = core::Bridge::new(core_config(c)).map_err(error)?;
        Ok(wbridge::Bridge::new(BridgeResource(RefCell::new(bridge))))
    }

    fn screen_webhook(&self, signature: Option<String>) -> Option<wbridge::Answer> {
        self.0
            .borrow()
            .screen_webhook(IO, signature.as_deref())
            .map(answer_out)
    }

    fn handle_webhook(
        &self,
        signature: Option<String>,
        token: Option<String>,
        body: Vec<u8>,
    ) -> wbridge::Answer {
        answer_out(self.0.borrow_mut().handle_webhook(
            IO,
            signature.as_deref(),
            token.as_deref(),
            &body,
        ))
    }

    fn tick(&self) -> Result<wbridge::TickReport, wt::Error> {
        let r = self.0.borrow_mut().tick(IO).map_err(error)?;
        Ok(wbridge::TickReport {
            released: r.released,
            pushed: r.pushed,
            failed: r.failed,
            wake: r.wake,
            queue_change: r.queue_change,
            work: r.work,
        })
    }

    fn queue_depth(&self) -> Result<u64, wt::Error> {
        self.0.borrow().queue_depth(&Imports).map_err(error)
    }

    fn drain(&self, conversation: String) -> Result<wbridge::DrainReport, wt::Error> {
        let r = self
            .0
            .borrow_mut()
            .drain(IO, &conversation)
            .map_err(error)?;
        Ok(wbridge::DrainReport {
            done: r.done,
            dropped: r.dropped,
            retry_at: r.retry_at.map(|t| t.0),
            left: r.left,
        })
    }

    fn busy(&self) -> Result<Vec<String>, wt::Error> {
        self.0.borrow().busy(&Imports).map_err(error)
    }
}

// ---------------------------------------------------------------- gleap

use crate::helpdesk::gleap::adapter as gb;
use exports::gradient_labs::bridge::gleap as wgleap;

fn gleap_config(c: wgleap::Config) -> gb::GleapConfig {
    gb::GleapConfig {
        gleap_secret: c.gleap_secret.map(crate::client::Secret::new),
        reply_wait_ms: c.reply_wait_ms,
        settle_ms: c.settle_ms,
        holding_text: c.holding_text,
        hand_off_text: c.hand_off_text,
        rest: c.rest.map(|r| gb::RestConfig {
            base_url: r.base_url,
            api_key: crate::client::Secret::new(r.api_key),
            project_id: r.project_id,
        }),
    }
}

fn turn_out(t: gb::Turn) -> wgleap::Turn {
    match t {
        gb::Turn::Answer(a) => wgleap::Turn::Answer(answer_out(a)),
        gb::Turn::Pending(p) => wgleap::Turn::Pending(wgleap::Pending {
            conversation: p.conversation,
            deadline: p.deadline.0,
            after: p.after,
            wake_at: p.wake_at.0,
        }),
    }
}

impl wgleap::Guest for Component {
    fn serve(bridge: wbridge::BridgeBorrow<'_>, config: wgleap::Config) -> Result<(), wt::Error> {
        let gleap = gb::Gleap::new(gleap_config(config));
        BridgeResource::with(bridge, |b| b.add(Box::new(gleap)));
        Ok(())
    }

    fn handle_action(
        bridge: wbridge::BridgeBorrow<'_>,
        authorization: Option<String>,
        body: Vec<u8>,
    ) -> wgleap::Turn {
        turn_out(BridgeResource::with(bridge, |b| {
            gb::handle_action(b, IO, authorization.as_deref(), &body)
        }))
    }

    fn collect(bridge: wbridge::BridgeBorrow<'_>, p: wgleap::Pending) -> wgleap::Turn {
        let pending = gb::Pending {
            conversation: p.conversation,
            deadline: Timestamp(p.deadline),
            after: p.after,
            wake_at: Timestamp(p.wake_at),
        };
        turn_out(BridgeResource::with(bridge, |b| {
            gb::collect(b, IO, &pending)
        }))
    }
}

// ---------------------------------------------------------------- chatwoot

use crate::helpdesk::chatwoot as cw;
use exports::gradient_labs::bridge::chatwoot as wcw;

fn phase_in(p: wcw::Phase) -> cw::Phase {
    match p {
        wcw::Phase::New => cw::Phase::New,
        wcw::Phase::Agent => cw::Phase::Agent,
        wcw::Phase::HandedOff => cw::Phase::HandedOff,
        wcw::Phase::Human => cw::Phase::Human,
        wcw::Phase::Finished => cw::Phase::Finished,
    }
}

fn phase_out(p: cw::Phase) -> wcw::Phase {
    match p {
        cw::Phase::New => wcw::Phase::New,
        cw::Phase::Agent => wcw::Phase::Agent,
        cw::Phase::HandedOff => wcw::Phase::HandedOff,
        cw::Phase::Human => wcw::Phase::Human,
        cw::Phase::Finished => wcw::Phase::Finished,
    }
}

fn signature_error(e: cw::SignatureError) -> wcw::EventError {
    match e {
        cw::SignatureError::Mismatch => wcw::EventError::SignatureMismatch,
        cw::SignatureError::Stale(skew) => wcw::EventError::Stale(skew),
        other => wcw::EventError::BadHeader(other.to_string()),
    }
}

fn bad_event(e: impl std::fmt::Display) -> wcw::EventError {
    wcw::EventError::BadEvent(e.to_string())
}

fn chatwoot_config(c: wcw::Config) -> cw::adapter::ChatwootConfig {
    use cw::adapter::Auth;
    cw::adapter::ChatwootConfig {
        settings: settings_in(c.settings),
        auth: match c.auth {
            wcw::Auth::Signature(s) => Auth::Signature {
                secret: crate::client::Secret::new(s.secret),
                window_secs: s.window_secs,
            },
            wcw::Auth::UrlToken(t) => Auth::UrlToken(crate::client::Secret::new(t)),
            wcw::Auth::Insecure => Auth::Insecure,
        },
    }
}

fn settings_in(s: wcw::Settings) -> cw::Settings {
    cw::Settings {
        base_url: s.base_url,
        bot_token: s.bot_token,
        teams: s.teams.into_iter().collect(),
    }
}

fn window(w: Option<u32>) -> u32 {
    w.unwrap_or(cw::DEFAULT_WINDOW_SECS)
}

impl wcw::Guest for Component {
    fn serve(bridge: wbridge::BridgeBorrow<'_>, config: wcw::Config) -> Result<(), wt::Error> {
        let chatwoot = cw::adapter::Chatwoot::new(chatwoot_config(config)).map_err(error)?;
        BridgeResource::with(bridge, |b| b.add(Box::new(chatwoot)));
        Ok(())
    }

    fn screen_event(
        bridge: wbridge::BridgeBorrow<'_>,
        timestamp: Option<String>,
        signature: Option<String>,
        url_token: Option<String>,
    ) -> Option<wbridge::InboundAnswer> {
        BridgeResource::with(bridge, |b| {
            cw::adapter::screen_event(
                b,
                IO,
                timestamp.as_deref(),
                signature.as_deref(),
                url_token.as_deref(),
            )
        })
        .map(inbound_answer_out)
    }

    fn handle_event(
        bridge: wbridge::BridgeBorrow<'_>,
        timestamp: Option<String>,
        signature: Option<String>,
        url_token: Option<String>,
        body: Vec<u8>,
    ) -> wbridge::InboundAnswer {
        inbound_answer_out(BridgeResource::with(bridge, |b| {
            cw::adapter::handle_event(
                b,
                IO,
                timestamp.as_deref(),
                signature.as_deref(),
                url_token.as_deref(),
                &body,
            )
        }))
    }

    fn sign(secret: String, timestamp_secs: i64, body: Vec<u8>) -> String {
        cw::sign(&secret, timestamp_secs, &body)
    }

    fn screen(
        timestamp: Option<String>,
        signature: Option<String>,
        now: Option<i64>,
        window_secs: Option<u32>,
    ) -> Result<(), wcw::EventError> {
        cw::screen(
            timestamp.as_deref(),
            signature.as_deref(),
            now_secs(now),
            window(window_secs),
        )
        .map_err(signature_error)
    }

    fn verify(
        secret: String,
        timestamp: Option<String>,
        signature: Option<String>,
        body: Vec<u8>,
        now: Option<i64>,
        window_secs: Option<u32>,
    ) -> Result<(), wcw::EventError> {
        cw::verify(
            &secret,
            timestamp.as_deref(),
            signature.as_deref(),
            &body,
            now_secs(now),
            window(window_secs),
        )
        .map_err(signature_error)
    }

    fn about(body: Vec<u8>) -> Result<wcw::Subject, wcw::EventError> {
        let event = cw::parse(&body).map_err(bad_event)?;
        Ok(wcw::Subject {
            conversation: event.conversation_id(),
            dedup_key: event.dedup_key(),
        })
    }

    fn plan_event(
        body: Vec<u8>,
        phase: wcw::Phase,
        now: Option<i64>,
    ) -> Result<wcw::Plan, wcw::EventError> {
        let event = cw::parse(&body).map_err(bad_event)?;
        let now = Timestamp(now.unwrap_or_else(clock::now));
        let plan = cw::for_event(&event, phase_in(phase), now);
        let calls = plan
            .operations
            .iter()
            .map(|op| wcw::AgentCall {
                operation: op.name().to_owned(),
                params: op.params_json().to_string(),
            })
            .collect();
        Ok(wcw::Plan {
            calls,
            phase: phase_out(plan.phase),
            ignored: plan.ignored,
        })
    }

    fn deliver_agent_event(
        settings: wcw::Settings,
        event: Vec<u8>,
        phase: wcw::Phase,
    ) -> Result<wcw::Delivery, wcw::EventError> {
        let event = webhook::parse(&event, None).map_err(bad_event)?;
        let settings = settings_in(settings);
        let d = cw::for_agent_event(&event, phase_in(phase), &settings);
        Ok(wcw::Delivery {
            requests: d.requests.into_iter().map(request_to_wit).collect(),
            phase: phase_out(d.phase),
            ignored: d.ignored,
        })
    }
}

// ---------------------------------------------------------------- zendesk

use crate::helpdesk::zendesk as zd;
use exports::gradient_labs::bridge::zendesk as wzd;

fn zendesk_config(c: wzd::Config) -> zd::adapter::ZendeskConfig {
    zd::adapter::ZendeskConfig {
        settings: zd::Settings {
            base_url: c.base_url,
            app_id: c.app_id,
            bot_name: c.bot_name,
            targets: c
                .targets
                .into_iter()
                .map(|t| (t.target, t.integration))
                .collect(),
            default_target: c.default_target,
            ai_subtype: c.ai_subtype,
        },
        key_id: c.key_id,
        key_secret: crate::client::Secret::new(c.key_secret),
        webhook_secret: crate::client::Secret::new(c.webhook_secret),
    }
}

impl wzd::Guest for Component {
    fn serve(bridge: wbridge::BridgeBorrow<'_>, config: wzd::Config) -> Result<(), wt::Error> {
        let zendesk = zd::adapter::Zendesk::new(zendesk_config(config)).map_err(error)?;
        BridgeResource::with(bridge, |b| b.add(Box::new(zendesk)));
        Ok(())
    }

    fn screen_event(
        bridge: wbridge::BridgeBorrow<'_>,
        api_key: Option<String>,
    ) -> Option<wbridge::InboundAnswer> {
        BridgeResource::with(bridge, |b| zd::adapter::screen_event(b, api_key.as_deref()))
            .map(inbound_answer_out)
    }

    fn handle_event(
        bridge: wbridge::BridgeBorrow<'_>,
        api_key: Option<String>,
        body: Vec<u8>,
    ) -> wbridge::InboundAnswer {
        inbound_answer_out(BridgeResource::with(bridge, |b| {
            zd::adapter::handle_event(b, IO, api_key.as_deref(), &body)
        }))
    }
}
