//! The typed exports of the operations beyond the seed documents —
//! procedures, tools, notes, resources, traffic groups, terminology,
//! outbound, and the newer conversation and topic calls. Each builds its
//! parameters as JSON, runs the operation the table declares (validation,
//! percent-encoding, retries included) and reads the answer into its WIT
//! record, taking either casing of a field (`max_daily_conversations`,
//! `MaxDailyConversations`).

use serde_json::{json, Map, Value};

use super::api::{wclient, with, BridgeClient};
use super::exports::gradient_labs::bridge::{
    conversations as wconv, knowledge as wknow, notes as wnotes, outbound as wout,
    procedures as wproc, resources as wres, terminology as wterm, tools as wtools,
    traffic_groups as wtraffic,
};
use super::{error, json_in, wt, Component};
use crate::operation::Operation;
use crate::time::Timestamp;

type R<T> = Result<T, wt::Error>;

/// Runs the operation called `name` with `body` (its `null` fields left out).
fn run(c: &BridgeClient, name: &str, path: &[(&str, &str)], body: Value) -> R<Value> {
    let body = match body {
        Value::Object(map) => {
            Value::Object(map.into_iter().filter(|(_, v)| !v.is_null()).collect())
        }
        other => other,
    };
    c.run(Operation::named(name, path, &body).map_err(error)?)
}

fn unit(c: &BridgeClient, name: &str, path: &[(&str, &str)], body: Value) -> R<()> {
    run(c, name, path, body).map(|_| ())
}

/// A JSON text from the WIT as a value (`null` when absent).
fn parsed(field: &str, text: Option<String>) -> R<Value> {
    Ok(json_in(field, text).map_err(error)?.unwrap_or(Value::Null))
}

/// Reads an answer's fields, in either casing, forgivingly.
struct J<'a>(&'a Value);

impl<'a> J<'a> {
    fn get(&self, k: &str) -> Option<&'a Value> {
        crate::operation::enveloped(self.0, k).filter(|v| !v.is_null())
    }
    fn s(&self, k: &str) -> String {
        self.os(k).unwrap_or_default()
    }
    fn os(&self, k: &str) -> Option<String> {
        match self.get(k)? {
            Value::String(s) if s.is_empty() => None,
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
    fn b(&self, k: &str) -> bool {
        self.get(k).and_then(Value::as_bool).unwrap_or(false)
    }
    fn ou(&self, k: &str) -> Option<u32> {
        self.get(k)
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
    }
    fn u(&self, k: &str) -> u32 {
        self.ou(k).unwrap_or(0)
    }
    fn ts(&self, k: &str) -> Option<i64> {
        let text = self.get(k)?.as_str()?;
        Timestamp::parse_rfc3339(text).ok().map(|t| t.0)
    }
    fn json(&self, k: &str) -> Option<String> {
        self.get(k).map(Value::to_string)
    }
    fn list(&self, k: &str) -> Vec<&'a Value> {
        self.get(k)
            .and_then(Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default()
    }
    fn strings(&self, k: &str) -> Vec<String> {
        self.list(k)
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    }
    fn pairs(&self, k: &str) -> Vec<(String, String)> {
        self.get(k)
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Sets a field of a JSON object (nothing for any other value).
fn set(v: &mut Value, k: &str, x: Value) {
    if let Some(m) = v.as_object_mut() {
        m.insert(k.to_owned(), x);
    }
}

fn items(v: &Value) -> Vec<&Value> {
    v.as_array().map(|a| a.iter().collect()).unwrap_or_default()
}

fn rfc3339(t: Option<i64>) -> Value {
    t.map_or(Value::Null, |t| Value::String(Timestamp(t).to_rfc3339()))
}

fn pairs_out(pairs: &[(String, String)]) -> Value {
    if pairs.is_empty() {
        return Value::Null;
    }
    Value::Object(
        pairs
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect::<Map<String, Value>>(),
    )
}

// ---------------------------------------------------------------- procedures

fn status_in(s: &str) -> wproc::ProcedureStatus {
    match s {
        "live" => wproc::ProcedureStatus::Live,
        "archived" => wproc::ProcedureStatus::Archived,
        "unsaved" => wproc::ProcedureStatus::Unsaved,
        _ => wproc::ProcedureStatus::Draft,
    }
}

fn status_out(s: wproc::ProcedureStatus) -> &'static str {
    match s {
        wproc::ProcedureStatus::Live => "live",
        wproc::ProcedureStatus::Archived => "archived",
        wproc::ProcedureStatus::Unsaved => "unsaved",
        wproc::ProcedureStatus::Draft => "draft",
    }
}

fn procedure(v: &Value) -> wproc::Procedure {
    let j = J(v);
    wproc::Procedure {
        id: j.s("id"),
        name: j.s("name"),
        description: j.os("description"),
        status: status_in(&j.s("status")),
        author_email: j.get("author").and_then(|a| J(a).os("email")),
        created: j.ts("created"),
        updated: j.ts("updated"),
        has_daily_limit: j.b("has_daily_limit"),
        max_daily_conversations: j.u("max_daily_conversations"),
    }
}

fn version(v: &Value) -> wproc::ProcedureVersion {
    let j = J(v);
    wproc::ProcedureVersion {
        version: j.u("version"),
        name: j.os("name"),
        description: j.os("description"),
        author: j.os("author"),
        created: j.ts("created"),
        live: j.b("live"),
        gated: j.b("gated"),
        gated_max_daily_conversations: j
            .get("gated_config")
            .and_then(|g| J(g).ou("max_daily_conversations")),
    }
}

fn page_params(cursor: Option<String>, status: Option<wproc::ProcedureStatus>) -> Value {
    json!({"cursor": cursor, "status": status.map(status_out)})
}

impl wproc::Guest for Component {
    fn list(
        c: wclient::ClientBorrow<'_>,
        cursor: Option<String>,
        status: Option<wproc::ProcedureStatus>,
    ) -> R<wproc::ProcedurePage> {
        with(c, |c| {
            let page = run(c, "procedures.list", &[], page_params(cursor, status))?;
            Ok(wproc::ProcedurePage {
                procedures: J(&page)
                    .list("procedures")
                    .into_iter()
                    .map(procedure)
                    .collect(),
                next: J(&page).os("next"),
            })
        })
    }

    fn list_all(
        c: wclient::ClientBorrow<'_>,
        status: Option<wproc::ProcedureStatus>,
    ) -> R<Vec<wproc::Procedure>> {
        with(c, |c| {
            let op = Operation::named("procedures.list", &[], &page_params(None, status))
                .map_err(error)?;
            let all = c.run_all_pages(&op)?;
            Ok(J(&all)
                .list("procedures")
                .into_iter()
                .map(procedure)
                .collect())
        })
    }

    fn read(c: wclient::ClientBorrow<'_>, id: String) -> R<wproc::Procedure> {
        with(c, |c| {
            Ok(procedure(&run(
                c,
                "procedures.read",
                &[("id", &id)],
                Value::Null,
            )?))
        })
    }

    fn set_limit(
        c: wclient::ClientBorrow<'_>,
        id: String,
        has_daily_limit: bool,
        max_daily_conversations: u32,
    ) -> R<wproc::Procedure> {
        let body = json!({"has_daily_limit": has_daily_limit, "max_daily_conversations": max_daily_conversations});
        with(c, |c| {
            Ok(procedure(&run(
                c,
                "procedures.set-limit",
                &[("id", &id)],
                body,
            )?))
        })
    }

    fn list_versions(c: wclient::ClientBorrow<'_>, id: String) -> R<Vec<wproc::ProcedureVersion>> {
        with(c, |c| {
            let list = run(c, "procedures.list-versions", &[("id", &id)], Value::Null)?;
            Ok(items(&list).into_iter().map(version).collect())
        })
    }

    fn set_live(c: wclient::ClientBorrow<'_>, id: String, version: u32) -> R<()> {
        versioned(c, "procedures.set-live", &id, version, Value::Null)
    }

    fn unset_live(c: wclient::ClientBorrow<'_>, id: String, version: u32) -> R<()> {
        versioned(c, "procedures.unset-live", &id, version, Value::Null)
    }

    fn set_gated(
        c: wclient::ClientBorrow<'_>,
        id: String,
        version: u32,
        max_daily_conversations: u32,
        replace: bool,
    ) -> R<()> {
        let body = json!({"max_daily_conversations": max_daily_conversations, "replace": replace});
        versioned(c, "procedures.set-gated", &id, version, body)
    }

    fn unset_gated(c: wclient::ClientBorrow<'_>, id: String, version: u32) -> R<()> {
        versioned(c, "procedures.unset-gated", &id, version, Value::Null)
    }
}

fn versioned(
    c: wclient::ClientBorrow<'_>,
    name: &str,
    id: &str,
    version: u32,
    body: Value,
) -> R<()> {
    let version = version.to_string();
    with(c, |c| {
        unit(c, name, &[("id", id), ("version", &version)], body)
    })
}

// ---------------------------------------------------------------- tools

fn http_in(h: &wtools::HttpDefinition) -> Value {
    let body = h.body_encoding.as_ref().map(|encoding| {
        json!({"encoding": encoding, "json_template": h.json_template,
               "form_field_templates": pairs_out(&h.form_field_templates)})
    });
    json!({"method": h.method, "url_template": h.url_template,
           "header_templates": pairs_out(&h.header_templates), "body": body})
}

fn http_out(v: &Value) -> wtools::HttpDefinition {
    let j = J(v);
    let body = j.get("body").map(J);
    wtools::HttpDefinition {
        method: j.s("method"),
        url_template: j.s("url_template"),
        header_templates: j.pairs("header_templates"),
        body_encoding: body.as_ref().and_then(|b| b.os("encoding")),
        json_template: body.as_ref().and_then(|b| b.os("json_template")),
        form_field_templates: body
            .map(|b| b.pairs("form_field_templates"))
            .unwrap_or_default(),
    }
}

fn parameter_in(p: &wtools::ToolParameter) -> Value {
    let options: Vec<Value> = p
        .options
        .iter()
        .map(|o| json!({"value": o.value, "text": o.text}))
        .collect();
    json!({"name": p.name, "description": p.description, "type": p.kind,
           "required": p.required, "options": options})
}

fn tool(v: &Value) -> wtools::Tool {
    let j = J(v);
    wtools::Tool {
        id: j.s("id"),
        name: j.s("name"),
        description: j.s("description"),
        parameters: j
            .list("parameters")
            .into_iter()
            .map(|p| {
                let p = J(p);
                wtools::ToolParameter {
                    name: p.s("name"),
                    description: p.s("description"),
                    kind: p.os("type").unwrap_or_else(|| "string".into()),
                    required: p.b("required"),
                    options: p
                        .list("options")
                        .into_iter()
                        .map(|o| wtools::ParameterOption {
                            value: J(o).s("value"),
                            text: J(o).s("text"),
                        })
                        .collect(),
                }
            })
            .collect(),
        webhook_name: j.get("webhook").and_then(|w| J(w).os("name")),
        http: j.get("http").map(http_out),
        // A flag for the official clients; the sandbox's canned answer too.
        mock: j.get("mock").is_some_and(|m| *m != Value::Bool(false)),
        version: j.ou("version"),
    }
}

fn definition(d: &wtools::ToolDefinition) -> Value {
    json!({"name": d.name, "description": d.description,
           "parameters": d.parameters.as_ref().map(|ps| ps.iter().map(parameter_in).collect::<Vec<_>>()),
           "webhook": d.webhook_name.as_ref().map(|n| json!({"name": n})),
           "http": d.http.as_ref().map(http_in), "mock": d.mock})
}

impl wtools::Guest for Component {
    fn list(c: wclient::ClientBorrow<'_>) -> R<Vec<wtools::Tool>> {
        with(c, |c| {
            Ok(items(&run(c, "tools.list", &[], Value::Null)?)
                .into_iter()
                .map(tool)
                .collect())
        })
    }

    fn create(
        c: wclient::ClientBorrow<'_>,
        id: Option<String>,
        d: wtools::ToolDefinition,
    ) -> R<wtools::Tool> {
        let mut body = definition(&d);
        set(&mut body, "id", id.map_or(Value::Null, Value::String));
        with(c, |c| Ok(tool(&run(c, "tools.create", &[], body)?)))
    }

    fn read(c: wclient::ClientBorrow<'_>, id: String, version: Option<u32>) -> R<wtools::Tool> {
        with(c, |c| {
            Ok(tool(&run(
                c,
                "tools.read",
                &[("id", &id)],
                json!({"version": version}),
            )?))
        })
    }

    fn update(
        c: wclient::ClientBorrow<'_>,
        id: String,
        d: wtools::ToolDefinition,
    ) -> R<wtools::Tool> {
        with(c, |c| {
            Ok(tool(&run(
                c,
                "tools.update",
                &[("id", &id)],
                definition(&d),
            )?))
        })
    }

    fn delete(c: wclient::ClientBorrow<'_>, id: String) -> R<()> {
        with(c, |c| unit(c, "tools.delete", &[("id", &id)], Value::Null))
    }

    fn execute(
        c: wclient::ClientBorrow<'_>,
        id: String,
        arguments: Vec<wtools::ToolArgument>,
    ) -> R<wtools::ToolResult> {
        let args: Vec<Value> = arguments
            .iter()
            .map(|a| json!({"name": a.name, "value": a.value}))
            .collect();
        let body = json!({"id": id, "arguments": args});
        with(c, |c| {
            let v = run(c, "tools.execute", &[("id", &id)], body)?;
            Ok(wtools::ToolResult {
                result: J(&v).json("result"),
                error: J(&v).os("error"),
            })
        })
    }
}

// ---------------------------------------------------------------- notes

fn note(v: &Value) -> wnotes::Note {
    let j = J(v);
    wnotes::Note {
        gradient_labs_id: j.s("gradient_labs_id"),
        id: j.s("id"),
        title: j.s("title"),
        body: j.os("body"),
        url: j.os("url"),
        valid_from: j.ts("valid_from"),
        valid_to: j.ts("valid_to"),
        last_modified_by: j.os("last_modified_by"),
        created: j.ts("created"),
        updated: j.ts("updated"),
        status: match j.s("status").as_str() {
            "live" => wnotes::NoteStatus::Live,
            "deleted" => wnotes::NoteStatus::Deleted,
            _ => wnotes::NoteStatus::Draft,
        },
    }
}

fn content(n: &wnotes::NoteContent) -> Value {
    json!({"title": n.title, "body": n.body, "webpage_url": n.webpage_url,
           "start_time": rfc3339(n.start_time), "end_time": rfc3339(n.end_time)})
}

impl wnotes::Guest for Component {
    fn create(c: wclient::ClientBorrow<'_>, id: String, n: wnotes::NoteContent) -> R<wnotes::Note> {
        let mut body = content(&n);
        set(&mut body, "id", Value::String(id));
        with(c, |c| Ok(note(&run(c, "notes.create", &[], body)?)))
    }

    fn update(c: wclient::ClientBorrow<'_>, id: String, n: wnotes::NoteContent) -> R<wnotes::Note> {
        with(c, |c| {
            Ok(note(&run(c, "notes.update", &[("id", &id)], content(&n))?))
        })
    }

    fn delete(c: wclient::ClientBorrow<'_>, id: String) -> R<()> {
        with(c, |c| unit(c, "notes.delete", &[("id", &id)], Value::Null))
    }

    fn set_status(c: wclient::ClientBorrow<'_>, id: String, status: wnotes::NoteStatus) -> R<()> {
        let status = match status {
            wnotes::NoteStatus::Live => "live",
            wnotes::NoteStatus::Deleted => "deleted",
            wnotes::NoteStatus::Draft => "draft",
        };
        with(c, |c| {
            unit(
                c,
                "notes.set-status",
                &[("id", &id)],
                json!({ "status": status }),
            )
        })
    }
}

// ---------------------------------------------------------------- resources

fn type_info(v: &Value) -> wres::ResourceTypeInfo {
    let j = J(v);
    wres::ResourceTypeInfo {
        id: j.s("id"),
        display_name: j.os("display_name").unwrap_or_else(|| j.s("name")),
        description: j.os("description"),
        scope: j.s("scope"),
        refresh_strategy: j.s("refresh_strategy"),
        source_config: j.get("source_config").map(|s| {
            let s = J(s);
            wres::SourceConfig {
                source_id: s.s("source_id"),
                attributes: s.strings("attributes"),
                cache: s.os("cache"),
            }
        }),
        is_enabled: j.get("is_enabled").and_then(Value::as_bool).unwrap_or(true),
        created: j.ts("created"),
        updated: j.ts("updated"),
    }
}

fn type_params(p: &wres::ResourceTypeParams) -> Value {
    json!({"display_name": p.display_name, "description": p.description, "scope": p.scope,
           "refresh_strategy": p.refresh_strategy, "is_enabled": p.is_enabled,
           "source_config": p.source_config.as_ref().map(|s| json!({
               "source_id": s.source_id, "attributes": s.attributes, "cache": s.cache}))})
}

fn source(v: &Value) -> wres::ResourceSource {
    let j = J(v);
    wres::ResourceSource {
        id: j.s("id"),
        display_name: j.s("display_name"),
        description: j.os("description"),
        source_type: j.s("source_type"),
        http_config: j.json("http_config"),
        webhook_name: j.get("webhook_config").and_then(|w| J(w).os("name")),
        attributes: j
            .get("schema")
            .map(|s| J(s).list("attributes"))
            .unwrap_or_default()
            .into_iter()
            .map(|a| {
                let a = J(a);
                wres::SchemaAttribute {
                    path: a.s("path"),
                    name: a.s("name"),
                    kind: a.s("type"),
                    cardinality: a.s("cardinality"),
                    description: a.os("description"),
                    is_top_level: a.b("is_top_level"),
                }
            })
            .collect(),
        created: j.ts("created"),
        updated: j.ts("updated"),
    }
}

fn source_params(p: wres::ResourceSourceParams) -> R<Value> {
    Ok(
        json!({"display_name": p.display_name, "description": p.description,
              "source_type": p.source_type,
              "http_config": parsed("http_config", p.http_config)?,
              "webhook_config": p.webhook_name.map(|n| json!({"name": n})),
              "attribute_descriptions": parsed("attribute_descriptions", p.attribute_descriptions)?}),
    )
}

impl wres::Guest for Component {
    fn list_types(c: wclient::ClientBorrow<'_>) -> R<Vec<wres::ResourceTypeInfo>> {
        with(c, |c| {
            let list = run(c, "management.list-resource-types", &[], Value::Null)?;
            Ok(items(&list).into_iter().map(type_info).collect())
        })
    }

    fn create_type(
        c: wclient::ClientBorrow<'_>,
        p: wres::ResourceTypeParams,
    ) -> R<wres::ResourceTypeInfo> {
        with(c, |c| {
            Ok(type_info(&run(
                c,
                "resource-types.create",
                &[],
                type_params(&p),
            )?))
        })
    }

    fn read_type(c: wclient::ClientBorrow<'_>, id: String) -> R<wres::ResourceTypeInfo> {
        with(c, |c| {
            Ok(type_info(&run(
                c,
                "resource-types.read",
                &[("id", &id)],
                Value::Null,
            )?))
        })
    }

    fn update_type(
        c: wclient::ClientBorrow<'_>,
        id: String,
        p: wres::ResourceTypeParams,
    ) -> R<wres::ResourceTypeInfo> {
        with(c, |c| {
            Ok(type_info(&run(
                c,
                "resource-types.update",
                &[("id", &id)],
                type_params(&p),
            )?))
        })
    }

    fn delete_type(c: wclient::ClientBorrow<'_>, id: String) -> R<()> {
        with(c, |c| {
            unit(c, "resource-types.delete", &[("id", &id)], Value::Null)
        })
    }

    fn list_sources(c: wclient::ClientBorrow<'_>) -> R<Vec<wres::ResourceSource>> {
        with(c, |c| {
            Ok(items(&run(c, "resource-sources.list", &[], Value::Null)?)
                .into_iter()
                .map(source)
                .collect())
        })
    }

    fn create_source(
        c: wclient::ClientBorrow<'_>,
        p: wres::ResourceSourceParams,
    ) -> R<wres::ResourceSource> {
        let body = source_params(p)?;
        with(c, |c| {
            Ok(source(&run(c, "resource-sources.create", &[], body)?))
        })
    }

    fn read_source(c: wclient::ClientBorrow<'_>, id: String) -> R<wres::ResourceSource> {
        with(c, |c| {
            Ok(source(&run(
                c,
                "resource-sources.read",
                &[("id", &id)],
                Value::Null,
            )?))
        })
    }

    fn update_source(
        c: wclient::ClientBorrow<'_>,
        id: String,
        p: wres::ResourceSourceParams,
    ) -> R<wres::ResourceSource> {
        let body = source_params(p)?;
        with(c, |c| {
            Ok(source(&run(
                c,
                "resource-sources.update",
                &[("id", &id)],
                body,
            )?))
        })
    }

    fn delete_source(c: wclient::ClientBorrow<'_>, id: String) -> R<()> {
        with(c, |c| {
            unit(c, "resource-sources.delete", &[("id", &id)], Value::Null)
        })
    }

    fn schema_by_examples(
        c: wclient::ClientBorrow<'_>,
        id: String,
        examples: Vec<String>,
        replace: bool,
    ) -> R<wres::ResourceSource> {
        let examples = examples
            .into_iter()
            .map(|e| parsed("examples", Some(e)))
            .collect::<R<Vec<Value>>>()?;
        let body = json!({"examples": examples,
                          "schema_update_strategy": if replace { "replace" } else { "merge" }});
        with(c, |c| {
            Ok(source(&run(
                c,
                "resource-sources.schema-by-examples",
                &[("id", &id)],
                body,
            )?))
        })
    }
}

// ---------------------------------------------------------------- traffic groups

fn target(v: &Value) -> wtraffic::TrafficTarget {
    wtraffic::TrafficTarget {
        target_type: J(v).s("target_type"),
        target_id: J(v).s("target_id"),
    }
}

fn group(v: &Value) -> wtraffic::TrafficGroup {
    let j = J(v);
    wtraffic::TrafficGroup {
        id: j.s("id"),
        name: j.s("name"),
        targets: j.list("targets").into_iter().map(target).collect(),
        excluded_targets: j.list("excluded_targets").into_iter().map(target).collect(),
    }
}

fn routed(
    c: wclient::ClientBorrow<'_>,
    name: &str,
    id: &str,
    procedure: &str,
) -> R<wtraffic::TrafficTarget> {
    let body = json!({"target_type": "procedure", "target_id": procedure});
    with(c, |c| Ok(target(&run(c, name, &[("id", id)], body)?)))
}

fn unrouted(c: wclient::ClientBorrow<'_>, name: &str, id: &str, procedure: &str) -> R<()> {
    with(c, |c| {
        unit(
            c,
            name,
            &[("id", id), ("target_id", procedure)],
            Value::Null,
        )
    })
}

impl wtraffic::Guest for Component {
    fn list(c: wclient::ClientBorrow<'_>) -> R<Vec<wtraffic::TrafficGroup>> {
        with(c, |c| {
            Ok(items(&run(c, "traffic-groups.list", &[], Value::Null)?)
                .into_iter()
                .map(group)
                .collect())
        })
    }

    fn create(c: wclient::ClientBorrow<'_>, name: String) -> R<wtraffic::TrafficGroup> {
        with(c, |c| {
            Ok(group(&run(
                c,
                "traffic-groups.create",
                &[],
                json!({ "name": name }),
            )?))
        })
    }

    fn update(c: wclient::ClientBorrow<'_>, id: String, name: String) -> R<wtraffic::TrafficGroup> {
        with(c, |c| {
            Ok(group(&run(
                c,
                "traffic-groups.update",
                &[("id", &id)],
                json!({ "name": name }),
            )?))
        })
    }

    fn delete(c: wclient::ClientBorrow<'_>, id: String) -> R<()> {
        with(c, |c| {
            unit(c, "traffic-groups.delete", &[("id", &id)], Value::Null)
        })
    }

    fn add_target(
        c: wclient::ClientBorrow<'_>,
        id: String,
        procedure_id: String,
    ) -> R<wtraffic::TrafficTarget> {
        routed(c, "traffic-groups.add-target", &id, &procedure_id)
    }

    fn remove_target(c: wclient::ClientBorrow<'_>, id: String, procedure_id: String) -> R<()> {
        unrouted(c, "traffic-groups.remove-target", &id, &procedure_id)
    }

    fn add_exclusion(
        c: wclient::ClientBorrow<'_>,
        id: String,
        procedure_id: String,
    ) -> R<wtraffic::TrafficTarget> {
        routed(c, "traffic-groups.add-exclusion", &id, &procedure_id)
    }

    fn remove_exclusion(c: wclient::ClientBorrow<'_>, id: String, procedure_id: String) -> R<()> {
        unrouted(c, "traffic-groups.remove-exclusion", &id, &procedure_id)
    }
}

// ---------------------------------------------------------------- terminology

fn substitution(v: &Value) -> wterm::Substitution {
    let j = J(v);
    wterm::Substitution {
        id: j.s("id"),
        params: wterm::SubstitutionParams {
            blocked: j.os("blocked"),
            blocked_description: j.os("blocked_description"),
            replacement: j.os("replacement"),
            resource_type_id: j.os("resource_type_id"),
            resource_attribute_json_path: j.os("resource_attribute_json_path"),
            resource_value_to_match: j.os("resource_value_to_match"),
        },
        created: j.ts("created"),
        updated: j.ts("updated"),
    }
}

fn substitution_params(p: &wterm::SubstitutionParams) -> Value {
    json!({"blocked": p.blocked, "blocked_description": p.blocked_description,
           "replacement": p.replacement, "resource_type_id": p.resource_type_id,
           "resource_attribute_json_path": p.resource_attribute_json_path,
           "resource_value_to_match": p.resource_value_to_match})
}

impl wterm::Guest for Component {
    fn list(c: wclient::ClientBorrow<'_>) -> R<Vec<wterm::Substitution>> {
        with(c, |c| {
            Ok(items(&run(c, "terminology.list", &[], Value::Null)?)
                .into_iter()
                .map(substitution)
                .collect())
        })
    }

    fn create(
        c: wclient::ClientBorrow<'_>,
        p: wterm::SubstitutionParams,
    ) -> R<wterm::Substitution> {
        with(c, |c| {
            Ok(substitution(&run(
                c,
                "terminology.create",
                &[],
                substitution_params(&p),
            )?))
        })
    }

    fn read(c: wclient::ClientBorrow<'_>, id: String) -> R<wterm::Substitution> {
        with(c, |c| {
            Ok(substitution(&run(
                c,
                "terminology.read",
                &[("id", &id)],
                Value::Null,
            )?))
        })
    }

    fn update(
        c: wclient::ClientBorrow<'_>,
        id: String,
        p: wterm::SubstitutionParams,
    ) -> R<wterm::Substitution> {
        with(c, |c| {
            Ok(substitution(&run(
                c,
                "terminology.update",
                &[("id", &id)],
                substitution_params(&p),
            )?))
        })
    }

    fn delete(c: wclient::ClientBorrow<'_>, id: String) -> R<()> {
        with(c, |c| {
            unit(c, "terminology.delete", &[("id", &id)], Value::Null)
        })
    }
}

// ---------------------------------------------------------------- outbound

fn task(v: &Value) -> wout::BackOfficeTask {
    let j = J(v);
    wout::BackOfficeTask {
        id: j.s("id"),
        status: j.s("status"),
        input: j.json("input"),
        result: j.json("result"),
        created: j.ts("created"),
        completed: j.ts("completed"),
        failure_reasons: j.strings("failure_reasons"),
    }
}

impl wout::Guest for Component {
    fn start(
        c: wclient::ClientBorrow<'_>,
        kind: wout::OutboundKind,
        p: wout::OutboundParams,
    ) -> R<String> {
        let identifiers: Vec<Value> = p
            .identifiers
            .iter()
            .map(|i| json!({"support_platform": i.support_platform, "type": i.kind, "value": i.value}))
            .collect();
        let mut body = json!({"customer_id": p.customer_id, "procedure_id": p.procedure_id,
            "customer_support_platform_identifiers": if identifiers.is_empty() { Value::Null } else { Value::Array(identifiers) },
            "resources": parsed("resources", p.resources)?});
        let name = match kind {
            wout::OutboundKind::Chat => {
                set(&mut body, "support_platform", json!(p.support_platform));
                set(&mut body, "body", json!(p.body));
                "outbound.start-chat"
            }
            wout::OutboundKind::Email => {
                set(&mut body, "support_platform", json!(p.support_platform));
                set(&mut body, "body", json!(p.body));
                set(&mut body, "subject", json!(p.subject));
                "outbound.start-email"
            }
            wout::OutboundKind::Phone((to, from)) => {
                set(&mut body, "to_phone_number", json!(to));
                set(&mut body, "from_phone_number", json!(from));
                "outbound.start-phone"
            }
        };
        with(c, |c| Ok(J(&run(c, name, &[], body)?).s("conversation_id")))
    }

    fn create_task(c: wclient::ClientBorrow<'_>, p: wout::TaskParams) -> R<wout::BackOfficeTask> {
        let body = json!({"id": p.id, "agent_id": p.agent_id, "procedure_id": p.procedure_id,
            "input": parsed("input", Some(p.input))?, "created": rfc3339(p.created),
            "metadata": parsed("metadata", p.metadata)?});
        with(c, |c| {
            Ok(task(&run(c, "back-office-tasks.create", &[], body)?))
        })
    }

    fn read_task(c: wclient::ClientBorrow<'_>, id: String) -> R<wout::BackOfficeTask> {
        with(c, |c| {
            Ok(task(&run(
                c,
                "back-office-tasks.read",
                &[("id", &id)],
                Value::Null,
            )?))
        })
    }

    fn delete_task(c: wclient::ClientBorrow<'_>, id: String) -> R<()> {
        with(c, |c| {
            unit(c, "back-office-tasks.delete", &[("id", &id)], Value::Null)
        })
    }

    fn latest_call_context(
        c: wclient::ClientBorrow<'_>,
        phone: String,
        lookback_seconds: Option<u32>,
        include_large_fields: bool,
    ) -> R<wout::CallContext> {
        let query = json!({"lookback_seconds": lookback_seconds,
                           "include_large_fields": include_large_fields.then_some(true)});
        with(c, |c| {
            let v = run(c, "voice.latest-call-context", &[("phone", &phone)], query)?;
            let j = J(&v);
            Ok(wout::CallContext {
                started_at: j.ts("started_at"),
                summary: j.os("summary"),
                transcript: j.os("transcript"),
                handoff_reason: j.os("handoff_reason"),
                last_executed_procedure: j.os("last_executed_procedure"),
                gradient_labs_url: j.os("gradient_labs_url"),
            })
        })
    }
}

// ---------------------------------------------------------------- conversations and topics

/// The newer conversation calls, for `conversations`' `Guest` impl.
pub(super) fn return_async_tool_result(
    c: wclient::ClientBorrow<'_>,
    conversation_id: String,
    execution_id: String,
    payload: String,
) -> R<()> {
    let body = json!({"async_tool_execution_id": execution_id, "payload": parsed("payload", Some(payload))?});
    with(c, |c| {
        unit(
            c,
            "conversations.return-async-tool-result",
            &[("conversation_id", &conversation_id)],
            body,
        )
    })
}

pub(super) fn delete(c: wclient::ClientBorrow<'_>, conversation_id: String) -> R<()> {
    with(c, |c| {
        unit(
            c,
            "conversations.delete",
            &[("conversation_id", &conversation_id)],
            Value::Null,
        )
    })
}

pub(super) fn upload_memories(
    c: wclient::ClientBorrow<'_>,
    conversation_id: String,
    idempotency_key: String,
    memories: Vec<String>,
    created_at_keys: Vec<String>,
) -> R<wconv::MemoryUpload> {
    let memories = memories
        .into_iter()
        .map(|m| parsed("memories", Some(m)))
        .collect::<R<Vec<Value>>>()?;
    let body = json!({"idempotency_key": idempotency_key, "memories": memories,
        "created_at_keys": if created_at_keys.is_empty() { Value::Null } else { json!(created_at_keys) }});
    with(c, |c| {
        let v = run(
            c,
            "conversations.upload-memories",
            &[("conversation_id", &conversation_id)],
            body,
        )?;
        Ok(wconv::MemoryUpload {
            upload_id: J(&v).s("upload_id"),
            memories_inserted: J(&v).u("memories_inserted"),
        })
    })
}

pub(super) fn create_customer_memories(
    c: wclient::ClientBorrow<'_>,
    customer_id: String,
    memories: Vec<wconv::CustomerMemory>,
) -> R<()> {
    let memories = memories
        .into_iter()
        .map(|m| {
            Ok(json!({"external_id": m.external_id, "custom_type": m.custom_type,
                      "created_at": rfc3339(Some(m.created_at)), "data": parsed("data", Some(m.data))?}))
        })
        .collect::<R<Vec<Value>>>()?;
    with(c, |c| {
        unit(
            c,
            "customers.create-memories",
            &[("customer_id", &customer_id)],
            json!({ "memories": memories }),
        )
    })
}

fn topic(v: &Value) -> wknow::TopicInfo {
    let j = J(v);
    wknow::TopicInfo {
        external_id: j.os("external_id").unwrap_or_else(|| j.s("id")),
        name: j.s("name"),
        description: j.os("description"),
        visibility: j.os("visibility"),
        parent_external_id: j.os("parent_external_id"),
        source: j.os("source"),
        data: j.json("data"),
        public_url: j.os("public_url"),
        created: j.ts("created"),
        last_edited: j.ts("last_edited"),
    }
}

pub(super) fn list_topics(
    c: wclient::ClientBorrow<'_>,
    support_platform: Option<String>,
) -> R<Vec<wknow::TopicInfo>> {
    with(c, |c| {
        let list = run(
            c,
            "knowledge.list-topics",
            &[],
            json!({ "support_platform": support_platform }),
        )?;
        Ok(items(&list).into_iter().map(topic).collect())
    })
}

pub(super) fn read_topic(
    c: wclient::ClientBorrow<'_>,
    id: String,
    support_platform: Option<String>,
) -> R<wknow::TopicInfo> {
    with(c, |c| {
        Ok(topic(&run(
            c,
            "knowledge.read-topic",
            &[("id", &id)],
            json!({ "support_platform": support_platform }),
        )?))
    })
}
