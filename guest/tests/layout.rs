//! The crate's layout: no module imports one that imports it back (directly
//! or through others), and no helpdesk adapter imports another, so that the
//! core and each adapter can be read, and changed, on their own.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Module = Vec<String>;

/// Every module of `src/` and its file (`a/b.rs` and `a/b/mod.rs` are `a::b`).
fn modules(src: &Path) -> BTreeMap<Module, PathBuf> {
    let mut out = BTreeMap::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let rel = path.strip_prefix(src).unwrap().with_extension("");
            let mut parts: Module = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
                parts.pop();
            }
            out.insert(parts, path);
        }
    }
    out
}

/// The `crate::…` and `super::…` paths a file names (outside its
/// `#[cfg(test)] mod tests`).
fn paths(text: &str) -> Vec<(bool, Vec<String>)> {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    let mut out = Vec::new();
    for (root, relative) in [("crate::", false), ("super::", true)] {
        let mut rest = text;
        while let Some(i) = rest.find(root) {
            let before = rest[..i].chars().next_back();
            rest = &rest[i + root.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let mut segments = Vec::new();
            let mut tail = rest;
            loop {
                let end = tail
                    .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .unwrap_or(tail.len());
                if end == 0 {
                    break;
                }
                segments.push(tail[..end].to_owned());
                match tail[end..].strip_prefix("::") {
                    Some(t) => tail = t,
                    None => break,
                }
            }
            out.push((relative, segments));
        }
    }
    out
}

/// Which module each module imports (not its own ancestors or itself).
fn imports(src: &Path) -> BTreeMap<Module, BTreeSet<Module>> {
    let modules = modules(src);
    let resolve = |path: &[String]| -> Option<Module> {
        (1..=path.len())
            .rev()
            .map(|n| path[..n].to_vec())
            .find(|p| modules.contains_key(p))
    };
    let mut out = BTreeMap::new();
    for (module, file) in &modules {
        // The component's glue and the test fakes use everything; nothing
        // but tests uses them.
        if matches!(
            module.first().map(String::as_str),
            Some("component" | "testing")
        ) || file.to_string_lossy().contains("test")
        {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        let mut deps = BTreeSet::new();
        for (relative, mut segments) in paths(&text) {
            let mut base: Module = if relative {
                // `super` of `a/b.rs` is `a`; of `a/b/mod.rs` it is also `a`.
                let mut b = module.clone();
                b.pop();
                b
            } else {
                Vec::new()
            };
            while segments.first().map(String::as_str) == Some("super") {
                base.pop();
                segments.remove(0);
            }
            base.extend(segments);
            if let Some(target) = resolve(&base) {
                let ancestor = target.len() < module.len() && module.starts_with(&target);
                if &target != module && !ancestor && !target.is_empty() {
                    deps.insert(target);
                }
            }
        }
        out.insert(module.clone(), deps);
    }
    out
}

/// A cycle through `start`, if there is one.
fn cycle_through(
    graph: &BTreeMap<Module, BTreeSet<Module>>,
    start: &Module,
) -> Option<Vec<Module>> {
    let mut stack = vec![(start.clone(), vec![start.clone()])];
    let mut seen = BTreeSet::new();
    while let Some((at, path)) = stack.pop() {
        for next in graph.get(&at).into_iter().flatten() {
            if next == start {
                return Some(path.clone());
            }
            if seen.insert(next.clone()) {
                let mut p = path.clone();
                p.push(next.clone());
                stack.push((next.clone(), p));
            }
        }
    }
    None
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let graph = imports(&src());
    assert!(graph.len() > 20, "found the modules: {:?}", graph.keys());
    for module in graph.keys() {
        if let Some(cycle) = cycle_through(&graph, module) {
            let names: Vec<String> = cycle.iter().map(|m| m.join("::")).collect();
            panic!("an import circle: {} -> back", names.join(" -> "));
        }
    }
}

#[test]
fn no_helpdesk_adapter_imports_another() {
    let graph = imports(&src());
    for (module, deps) in &graph {
        let ["helpdesk", own, ..] = module.iter().map(String::as_str).collect::<Vec<_>>()[..]
        else {
            continue;
        };
        for dep in deps {
            if let ["helpdesk", other, ..] = dep.iter().map(String::as_str).collect::<Vec<_>>()[..]
            {
                assert_eq!(
                    own,
                    other,
                    "{} imports {}",
                    module.join("::"),
                    dep.join("::")
                );
            }
        }
    }
    // The core imports no adapter.
    for (module, deps) in &graph {
        if module.first().map(String::as_str) == Some("bridge") {
            assert!(
                deps.iter()
                    .all(|d| d.first().map(String::as_str) != Some("helpdesk")),
                "{} imports an adapter: {deps:?}",
                module.join("::")
            );
        }
    }
}

#[test]
fn the_checks_see_a_circle_when_there_is_one() {
    let dir = std::env::temp_dir().join(format!("glbridge-layout-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("a")).unwrap();
    std::fs::write(dir.join("lib.rs"), "pub mod a; pub mod b;").unwrap();
    std::fs::write(dir.join("a/mod.rs"), "use crate::b::Thing;").unwrap();
    std::fs::write(dir.join("b.rs"), "use super::a::Other;").unwrap();
    let graph = imports(&dir);
    assert!(
        cycle_through(&graph, &vec!["a".to_owned()]).is_some(),
        "{graph:?}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
