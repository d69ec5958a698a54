//! The `client` world's exports: the API client, its typed operations
//! (`admin` holds the newer areas) and the import-free `protocol`.

use std::cell::RefCell;

pub(super) use super::exports::gradient_labs::bridge::client as wclient;
use super::exports::gradient_labs::bridge::conversations as wconv;
use super::exports::gradient_labs::bridge::knowledge as wknow;
use super::exports::gradient_labs::bridge::management as wmgmt;
use super::exports::gradient_labs::bridge::protocol as wproto;
use super::gradient_labs::bridge::http as whttp;
use super::{error, json_in, json_out, ts, wt, Component, Imports};
use crate::env::Transport;
use crate::http::{HttpRequest, HttpResponse, Method as LibMethod, TransportError};
use crate::model::{self, conversations as conv, knowledge as know, management as mgmt};
use crate::operation::{Operation, Output};
use crate::time::Timestamp;

impl Transport for Imports {
    fn send(&self, r: &HttpRequest) -> Result<HttpResponse, TransportError> {
        whttp::send(&request_to_wit(r.clone()))
            .map(response_from_wit)
            .map_err(transport_error_from_wit)
    }
}

pub(super) fn request_to_wit(r: HttpRequest) -> whttp::Request {
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

pub(super) fn config(c: wclient::Config) -> crate::client::Config {
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

fn config_out(c: crate::client::Config) -> wclient::Config {
    wclient::Config {
        base_url: c.base_url,
        api_key: c.api_key.expose().to_owned(),
        user_agent: c.user_agent,
        timeout_ms: c.timeout_ms,
        max_body_bytes: c.max_body_bytes,
        retry: wclient::RetryPolicy {
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
    pub(super) fn run(&self, op: Operation) -> Result<Output, wt::Error> {
        self.0
            .borrow_mut()
            .run(&Imports, &Imports, &op)
            .map_err(error)
    }

    pub(super) fn run_all_pages(&self, op: &Operation) -> Result<Output, wt::Error> {
        self.0
            .borrow_mut()
            .run_all_pages(&Imports, &Imports, op)
            .map_err(error)
    }

    /// Runs the operation called `name` and reads its answer with `read`.
    pub(super) fn call_as<T>(
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
    pub(super) fn call_unit(
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

pub(super) fn with<T>(
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
        super::admin::return_async_tool_result(c, conversation_id, async_tool_execution_id, payload)
    }

    fn delete(c: wclient::ClientBorrow<'_>, conversation_id: String) -> Result<(), wt::Error> {
        super::admin::delete(c, conversation_id)
    }

    fn upload_memories(
        c: wclient::ClientBorrow<'_>,
        conversation_id: String,
        idempotency_key: String,
        memories: Vec<String>,
        created_at_keys: Vec<String>,
    ) -> Result<wconv::MemoryUpload, wt::Error> {
        super::admin::upload_memories(
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
        super::admin::create_customer_memories(c, customer_id, memories)
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
        super::admin::list_topics(c, support_platform)
    }

    fn read_topic(
        c: wclient::ClientBorrow<'_>,
        id: String,
        support_platform: Option<String>,
    ) -> Result<wknow::TopicInfo, wt::Error> {
        super::admin::read_topic(c, id, support_platform)
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

// ---------------------------------------------------------------- protocol

impl wproto::Guest for Component {
    fn version() -> String {
        env!("CARGO_PKG_VERSION").to_owned()
    }

    fn default_config(base_url: String, api_key: String) -> wclient::Config {
        config_out(crate::client::Config::new(base_url, api_key))
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
