//! Every operation of the AI-agent API, once each (see `spec.rs` for the
//! notation). `../shared/API-OPERATIONS.md` has where each comes from and
//! where the official clients disagree.

use super::checks::*;
use super::spec::{Reply, Role, Spec};
use crate::http::Method::{self, Delete, Get, Post, Put};

const NOTHING: Reply = Reply::Nothing;
const OBJECT: Reply = Reply::Object { unwrap: None };

/// A spec with the common defaults: no query, no typed body, no extra check,
/// always idempotent.
const fn op(
    name: &'static str,
    summary: &'static str,
    role: Role,
    method: Method,
    path: &'static str,
    body: &'static str,
    reply: Reply,
) -> Spec {
    Spec {
        name,
        summary,
        role,
        method,
        path,
        query: "",
        body,
        typed: None,
        check: None,
        reply,
        idempotent_with: None,
    }
}

const I: Role = Role::Integration;
const M: Role = Role::Management;
const E: Role = Role::Either;

const RESOURCE_TYPE: &str = "display_name description scope=global|local \
    refresh_strategy=dynamic|static source_config:o is_enabled:b";
const RESOURCE_SOURCE: &str = "display_name description source_type=http|internal|webhook \
    http_config:o webhook_config:o attribute_descriptions:o";
const TERMINOLOGY: &str = "blocked blocked_description replacement resource_type_id \
    resource_attribute_json_path resource_value_to_match";
const NOTE: &str = "title! body webpage_url start_time end_time";
const TOOL: &str = "id name description parameters:a webhook:o http:o async:o mock:j";

/// The table, grouped as the WIT interfaces are.
/// `conversations.start`, for typed callers.
pub static START: Spec = Spec {
        typed: Some(typed_start),
        ..op("conversations.start", "Hands a new conversation to the agent", I, Post, "conversations",
            "id! customer_id! channel=web|email|voice assignee_id assignee_type created metadata:o \
             resources:o conversation_token traffic_group_id customer_support_platform_identifiers:a",
            Reply::Custom(conversation_reply))
};

/// `conversations.add-message`, for typed callers.
pub static ADD_MESSAGE: Spec = Spec {
    typed: Some(typed_message),
    ..op(
        "conversations.add-message",
        "Adds a customer's or human agent's message",
        I,
        Post,
        "conversations/{conversation_id}/messages",
        "id! body participant_id! participant_type! created subject attachments:a metadata:o \
             conversation_token",
        Reply::Custom(message_reply),
    )
};

/// `conversations.assign`, for typed callers.
pub static ASSIGN: Spec = Spec {
    typed: Some(typed_assign),
    ..op(
        "conversations.assign",
        "Assigns the conversation (to the AI agent, a human, a bot)",
        I,
        Put,
        "conversations/{conversation_id}/assignee",
        "assignee_type! assignee_id timestamp reason",
        NOTHING,
    )
};

/// `conversations.finish`, for typed callers.
pub static FINISH: Spec = Spec {
    typed: Some(typed_finish),
    ..op(
        "conversations.finish",
        "Finishes the conversation (resolved, closed for inactivity)",
        I,
        Put,
        "conversations/{conversation_id}/finish",
        "timestamp reason reason_code=customer-ended-chat|customer-unresponsive",
        NOTHING,
    )
};

/// `conversations.resume`, for typed callers.
pub static RESUME: Spec = Spec {
    typed: Some(typed_resume),
    ..op(
        "conversations.resume",
        "Resumes a finished conversation",
        I,
        Put,
        "conversations/{conversation_id}/resume",
        "assignee_type! assignee_id timestamp reason resources:o",
        NOTHING,
    )
};

/// `conversations.push-resource`, for typed callers.
pub static PUSH_RESOURCE: Spec = Spec {
    check: Some(resource_document),
    ..op(
        "conversations.push-resource",
        "Attaches a resource document (deprecated: removed from the backend)",
        I,
        Put,
        "conversations/{conversation_id}/resources/{name}",
        "=document",
        NOTHING,
    )
};

pub static SPECS: &[&Spec] = &[
    // ------------------------------------------------------------ conversations (I)
    &START,
    &Spec {
        query: "support_platform",
        ..op(
            "conversations.read",
            "Reads a conversation",
            I,
            Get,
            "conversations/{conversation_id}/read",
            "",
            Reply::Custom(conversation_reply),
        )
    },
    &op(
        "conversations.read-legacy",
        "Reads a conversation (the deprecated path)",
        I,
        Get,
        "conversations/{conversation_id}",
        "",
        Reply::Custom(conversation_reply),
    ),
    &ADD_MESSAGE,
    &Spec {
        typed: Some(typed_event),
        idempotent_with: Some("idempotency_key"),
        ..op(
            "conversations.add-event",
            "Records an event (typing, delivered, read, internal note)",
            I,
            Post,
            "conversations/{conversation_id}/events",
            "type! participant_id! participant_type! message_id timestamp idempotency_key body",
            NOTHING,
        )
    },
    &ASSIGN,
    &FINISH,
    &Spec {
        typed: Some(typed_end),
        ..op(
            "conversations.end",
            "Ends the conversation (deprecated: use finish)",
            I,
            Put,
            "conversations/{conversation_id}/end",
            "timestamp",
            NOTHING,
        )
    },
    &Spec {
        typed: Some(typed_cancel),
        ..op(
            "conversations.cancel",
            "Cancels the conversation",
            I,
            Put,
            "conversations/{conversation_id}/cancel",
            "timestamp reason",
            NOTHING,
        )
    },
    &RESUME,
    &Spec {
        typed: Some(typed_rating),
        ..op(
            "conversations.rate",
            "Records a customer rating (CSAT)",
            I,
            Put,
            "conversations/{conversation_id}/rate",
            "type! value:i! max_value:i! min_value:i! comments timestamp",
            NOTHING,
        )
    },
    &PUSH_RESOURCE,
    &op(
        "conversations.return-async-tool-result",
        "Returns the result of an asynchronous tool call",
        I,
        Put,
        "conversations/{conversation_id}/return-async-tool-result",
        "async_tool_execution_id! payload:o! timestamp",
        NOTHING,
    ),
    &op(
        "conversations.delete",
        "Deletes a conversation that is not active (asynchronous)",
        M,
        Delete,
        "conversations/{conversation_id}",
        "",
        NOTHING,
    ),
    &Spec {
        check: Some(non_empty_memories),
        ..op(
            "conversations.upload-memories",
            "Uploads a conversation's memories in bulk",
            I,
            Post,
            "conversations/{conversation_id}/memories",
            "idempotency_key! memories:a! created_at_keys:a",
            OBJECT,
        )
    },
    &Spec {
        check: Some(non_empty_memories),
        ..op(
            "customers.create-memories",
            "Creates memories of a customer in a batch (asynchronous)",
            I,
            Post,
            "customers/{customer_id}/memories",
            "memories:a!",
            NOTHING,
        )
    },
    // ------------------------------------------------------------ outbound (I)
    &op(
        "outbound.start",
        "Starts an outbound conversation (generic)",
        I,
        Post,
        "outbound/conversations",
        "customer_id! customer_source! procedure_id! support_platform channel subject body \
         resources:o",
        OBJECT,
    ),
    &op(
        "outbound.start-chat",
        "Starts an outbound chat conversation",
        I,
        Post,
        "outbound/conversations/chat",
        "customer_id! procedure_id! support_platform! customer_support_platform_identifiers:a \
         body resources:o",
        OBJECT,
    ),
    &Spec {
        check: Some(subject_with_body),
        ..op(
            "outbound.start-email",
            "Starts an outbound e-mail conversation",
            I,
            Post,
            "outbound/conversations/email",
            "customer_id! procedure_id! support_platform! customer_support_platform_identifiers:a \
             subject body resources:o",
            OBJECT,
        )
    },
    &Spec {
        check: Some(phone_numbers),
        ..op(
            "outbound.start-phone",
            "Starts an outbound phone call",
            I,
            Post,
            "outbound/conversations/phone",
            "customer_id! procedure_id! to_phone_number! from_phone_number! \
             customer_support_platform_identifiers:a resources:o",
            OBJECT,
        )
    },
    // ------------------------------------------------------------ back-office tasks (I)
    &op(
        "back-office-tasks.create",
        "Creates a back-office task for a procedure",
        I,
        Post,
        "back-office-tasks",
        "id! agent_id procedure_id! input:j! created metadata:o attachments:a",
        OBJECT,
    ),
    &op(
        "back-office-tasks.read",
        "Reads a back-office task",
        I,
        Get,
        "back-office-tasks/{id}/read",
        "",
        OBJECT,
    ),
    &op(
        "back-office-tasks.delete",
        "Deletes a back-office task (asynchronous)",
        M,
        Delete,
        "back-office-tasks/{id}",
        "",
        NOTHING,
    ),
    // ------------------------------------------------------------ voice (I)
    &Spec {
        query: "lookback_seconds:i include_large_fields:b",
        check: Some(lookback),
        ..op(
            "voice.latest-call-context",
            "Reads the context of a number's latest voice call",
            I,
            Get,
            "voice/latest-call-context/{phone}",
            "",
            OBJECT,
        )
    },
    // ------------------------------------------------------------ knowledge
    &Spec {
        typed: Some(typed_article),
        ..op(
            "knowledge.upsert-article",
            "Creates or updates a help-centre article",
            E,
            Post,
            "articles",
            "id! author_id title description body! visibility=public|users|internal topic_id \
             status=draft|published data:j created! last_edited!",
            NOTHING,
        )
    },
    &op(
        "knowledge.delete-article",
        "Marks an article as deleted",
        E,
        Delete,
        "articles/{id}",
        "",
        NOTHING,
    ),
    &op(
        "knowledge.set-article-usage",
        "Lets the agent use an article, or not",
        E,
        Post,
        "articles/{id}/usage-status",
        "usage_status=on|off!",
        NOTHING,
    ),
    &Spec {
        typed: Some(typed_topic),
        ..op(
            "knowledge.upsert-topic",
            "Creates or updates an article topic",
            E,
            Post,
            "topics",
            "id! parent_id name! description visibility=public|users|internal \
             status=draft|published data:j created! last_edited!",
            NOTHING,
        )
    },
    &Spec {
        query: "support_platform",
        ..op(
            "knowledge.list-topics",
            "Lists article topics",
            E,
            Get,
            "topics",
            "",
            Reply::List { key: "topics" },
        )
    },
    &Spec {
        query: "support_platform",
        ..op(
            "knowledge.read-topic",
            "Reads an article topic",
            E,
            Get,
            "topic/{id}",
            "",
            OBJECT,
        )
    },
    // ------------------------------------------------------------ hand-off targets (M)
    &op(
        "management.upsert-hand-off-target",
        "Creates or updates a hand-off target",
        M,
        Post,
        "hand-off-targets",
        "id! name!",
        NOTHING,
    ),
    &op(
        "management.list-hand-off-targets",
        "Lists hand-off targets",
        M,
        Get,
        "hand-off-targets",
        "",
        Reply::Custom(hand_off_targets_reply),
    ),
    // The one DELETE with a body, as the official clients send it.
    &op(
        "management.delete-hand-off-target",
        "Deletes a hand-off target",
        M,
        Delete,
        "hand-off-targets",
        "id!",
        NOTHING,
    ),
    &op(
        "management.set-default-hand-off-target",
        "Sets a channel's default hand-off target",
        M,
        Put,
        "hand-off-targets/default",
        "id! channel=web|email|voice!",
        NOTHING,
    ),
    &Spec {
        query: "channel=web|email|voice!",
        ..op(
            "management.get-default-hand-off-target",
            "Reads a channel's default hand-off target",
            M,
            Get,
            "hand-off-targets/default",
            "",
            Reply::Custom(default_target_reply),
        )
    },
    // ------------------------------------------------------------ procedures (M)
    &Spec {
        query: "cursor status=draft|live",
        ..op(
            "procedures.list",
            "Lists procedures, a page at a time",
            M,
            Get,
            "procedures",
            "",
            Reply::Page { key: "procedures" },
        )
    },
    &op(
        "procedures.read",
        "Reads a procedure",
        M,
        Get,
        "procedure/{id}",
        "",
        OBJECT,
    ),
    &op(
        "procedures.set-limit",
        "Sets a procedure's daily conversation limit",
        M,
        Post,
        "procedure/{id}/limit",
        "has_daily_limit:b max_daily_conversations:i",
        Reply::Object {
            unwrap: Some("procedure"),
        },
    ),
    &op(
        "procedures.list-versions",
        "Lists a procedure's versions",
        M,
        Get,
        "procedures/{id}/versions",
        "",
        Reply::List { key: "versions" },
    ),
    &op(
        "procedures.set-live",
        "Makes a version the one the agent uses",
        M,
        Post,
        "procedures/{id}/versions/{version}/set-live",
        "",
        NOTHING,
    ),
    &op(
        "procedures.unset-live",
        "Stops a live version",
        M,
        Post,
        "procedures/{id}/versions/{version}/unset-live",
        "",
        NOTHING,
    ),
    &op(
        "procedures.set-gated",
        "Gates a version to a daily number of conversations",
        M,
        Post,
        "procedures/{id}/versions/{version}/set-gated",
        "max_daily_conversations:i! replace:b",
        NOTHING,
    ),
    &op(
        "procedures.unset-gated",
        "Removes a version's gate",
        M,
        Post,
        "procedures/{id}/versions/{version}/unset-gated",
        "",
        NOTHING,
    ),
    // ------------------------------------------------------------ tools (M)
    &op(
        "tools.list",
        "Lists tools",
        M,
        Get,
        "tools",
        "",
        Reply::List { key: "tools" },
    ),
    &Spec {
        check: Some(tool_definition),
        ..op(
            "tools.create",
            "Creates a tool",
            M,
            Post,
            "tools",
            "id name! description! parameters:a webhook:o http:o async:o mock:j",
            OBJECT,
        )
    },
    &Spec {
        query: "version:i",
        ..op(
            "tools.read",
            "Reads a tool",
            M,
            Get,
            "tools/{id}",
            "",
            OBJECT,
        )
    },
    &Spec {
        check: Some(tool_definition),
        ..op(
            "tools.update",
            "Updates a tool (a mock tool can become a real one, not back)",
            M,
            Put,
            "tools/{id}",
            TOOL,
            OBJECT,
        )
    },
    &op(
        "tools.delete",
        "Deletes a tool not used by a live procedure",
        M,
        Delete,
        "tools/{id}",
        "",
        NOTHING,
    ),
    &Spec {
        check: Some(tool_arguments),
        ..op(
            "tools.execute",
            "Runs a tool with arguments, to test it",
            M,
            Post,
            "tools/{id}/execute",
            "id arguments:a!",
            OBJECT,
        )
    },
    // ------------------------------------------------------------ notes (M)
    &Spec {
        check: Some(note_content),
        ..op(
            "notes.create",
            "Creates a note (text or a web page) for the agent",
            M,
            Post,
            "notes",
            "id! title! body webpage_url start_time end_time",
            OBJECT,
        )
    },
    &Spec {
        check: Some(note_content),
        ..op(
            "notes.update",
            "Updates a note",
            M,
            Post,
            "notes/{id}",
            NOTE,
            OBJECT,
        )
    },
    &op(
        "notes.delete",
        "Deletes a note",
        M,
        Delete,
        "notes/{id}",
        "",
        NOTHING,
    ),
    &op(
        "notes.set-status",
        "Makes a note live or draft",
        M,
        Post,
        "notes/{id}/status",
        "status=draft|live!",
        NOTHING,
    ),
    // ------------------------------------------------------------ secrets (M)
    &Spec {
        check: Some(secret_value),
        ..op(
            "management.put-secret",
            "Writes a secret (its value is never read back)",
            M,
            Put,
            "secrets/{name}",
            "value! expiry refresh_mechanism_http:o",
            OBJECT,
        )
    },
    &op(
        "management.list-secrets",
        "Lists secrets (names and dates, never values)",
        M,
        Get,
        "secrets",
        "",
        Reply::Custom(secrets_reply),
    ),
    &op(
        "management.delete-secret",
        "Revokes a secret",
        M,
        Delete,
        "secrets/{name}",
        "",
        NOTHING,
    ),
    // ------------------------------------------------------------ resource types (M)
    &Spec {
        typed: Some(typed_resource_type),
        ..op(
            "management.put-resource-type",
            "Creates or updates a resource type by name (the seed documents' form)",
            M,
            Put,
            "resource-types/{name}",
            "display_name description mode=push|pull! pull_config:o",
            NOTHING,
        )
    },
    &op(
        "management.get-resource-type",
        "Reads a resource type",
        M,
        Get,
        "resource-types/{name}",
        "",
        Reply::Custom(resource_type_reply),
    ),
    &op(
        "management.list-resource-types",
        "Lists resource types",
        M,
        Get,
        "resource-types",
        "",
        Reply::List {
            key: "resource_types",
        },
    ),
    &op(
        "management.delete-resource-type",
        "Deletes a resource type",
        M,
        Delete,
        "resource-types/{name}",
        "",
        NOTHING,
    ),
    &Spec {
        check: Some(new_resource_type),
        ..op(
            "resource-types.create",
            "Creates a resource type (the official clients' form)",
            M,
            Post,
            "resource-types",
            RESOURCE_TYPE,
            OBJECT,
        )
    },
    &op(
        "resource-types.read",
        "Reads a resource type by id",
        M,
        Get,
        "resource-types/{id}",
        "",
        OBJECT,
    ),
    &op(
        "resource-types.update",
        "Updates a resource type (a given source_config replaces the whole object)",
        M,
        Put,
        "resource-types/{id}",
        RESOURCE_TYPE,
        OBJECT,
    ),
    &op(
        "resource-types.delete",
        "Deletes a resource type by id",
        M,
        Delete,
        "resource-types/{id}",
        "",
        NOTHING,
    ),
    // ------------------------------------------------------------ resource sources (M)
    &op(
        "resource-sources.list",
        "Lists resource sources",
        M,
        Get,
        "resource-sources",
        "",
        Reply::List {
            key: "resource_sources",
        },
    ),
    &Spec {
        check: Some(new_resource_source),
        ..op(
            "resource-sources.create",
            "Creates a resource source",
            M,
            Post,
            "resource-sources",
            RESOURCE_SOURCE,
            OBJECT,
        )
    },
    &op(
        "resource-sources.read",
        "Reads a resource source",
        M,
        Get,
        "resource-sources/{id}",
        "",
        OBJECT,
    ),
    &Spec {
        check: Some(source_type_unchanged),
        ..op(
            "resource-sources.update",
            "Updates a resource source (not its source_type)",
            M,
            Put,
            "resource-sources/{id}",
            "display_name description http_config:o webhook_config:o attribute_descriptions:o \
             schema:o",
            OBJECT,
        )
    },
    &op(
        "resource-sources.delete",
        "Deletes a resource source",
        M,
        Delete,
        "resource-sources/{id}",
        "",
        NOTHING,
    ),
    &op(
        "resource-sources.schema-by-examples",
        "Infers a resource source's schema from example documents",
        M,
        Post,
        "resource-sources/{id}/schema-by-examples",
        "examples:a! schema_update_strategy=merge|replace",
        OBJECT,
    ),
    // ------------------------------------------------------------ traffic groups (M)
    &op(
        "traffic-groups.list",
        "Lists traffic groups",
        M,
        Get,
        "traffic-groups",
        "",
        Reply::List {
            key: "traffic_groups",
        },
    ),
    &op(
        "traffic-groups.create",
        "Creates a traffic group",
        M,
        Post,
        "traffic-groups",
        "name!",
        OBJECT,
    ),
    &op(
        "traffic-groups.update",
        "Renames a traffic group",
        M,
        Put,
        "traffic-groups/{id}",
        "name!",
        OBJECT,
    ),
    &op(
        "traffic-groups.delete",
        "Deletes a traffic group",
        M,
        Delete,
        "traffic-groups/{id}",
        "",
        NOTHING,
    ),
    &op(
        "traffic-groups.add-target",
        "Routes a procedure to a traffic group",
        M,
        Post,
        "traffic-groups/{id}/targets",
        "target_type=procedure! target_id!",
        OBJECT,
    ),
    &op(
        "traffic-groups.remove-target",
        "Removes a traffic group's target",
        M,
        Delete,
        "traffic-groups/{id}/targets/{target_id}",
        "",
        NOTHING,
    ),
    &op(
        "traffic-groups.add-exclusion",
        "Excludes a procedure from a traffic group",
        M,
        Post,
        "traffic-groups/{id}/exclusions",
        "target_type=procedure! target_id!",
        OBJECT,
    ),
    &op(
        "traffic-groups.remove-exclusion",
        "Removes a traffic group's exclusion",
        M,
        Delete,
        "traffic-groups/{id}/exclusions/{target_id}",
        "",
        NOTHING,
    ),
    // ------------------------------------------------------------ terminology (M)
    &op(
        "terminology.list",
        "Lists terminology substitutions",
        M,
        Get,
        "terminology-substitutions",
        "",
        Reply::List {
            key: "substitutions",
        },
    ),
    &Spec {
        check: Some(substitution),
        ..op(
            "terminology.create",
            "Creates a terminology substitution",
            M,
            Post,
            "terminology-substitutions",
            TERMINOLOGY,
            OBJECT,
        )
    },
    &op(
        "terminology.read",
        "Reads a terminology substitution",
        M,
        Get,
        "terminology-substitutions/{id}",
        "",
        OBJECT,
    ),
    &op(
        "terminology.update",
        "Updates a terminology substitution",
        M,
        Put,
        "terminology-substitutions/{id}",
        TERMINOLOGY,
        OBJECT,
    ),
    &op(
        "terminology.delete",
        "Deletes a terminology substitution",
        M,
        Delete,
        "terminology-substitutions/{id}",
        "",
        NOTHING,
    ),
    // ------------------------------------------------------------ addresses
    &op(
        "management.ip-addresses",
        "The API's and webhooks' IP addresses, for allowlists",
        E,
        Get,
        "ip-addresses",
        "",
        Reply::Custom(ip_addresses_reply),
    ),
];

/// The operation called `name`.
pub fn find(name: &str) -> Option<&'static Spec> {
    SPECS.iter().copied().find(|s| s.name == name)
}
