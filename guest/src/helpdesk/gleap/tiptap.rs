//! TipTap (ProseMirror) documents: flattened to text on the way in, built
//! from text on the way out.

use serde_json::{json, Value};

/// The text of a TipTap document: blocks on their own lines, list items
/// marked with `- `, hard breaks kept.
pub fn flatten(doc: &Value) -> String {
    let mut out = String::new();
    walk(doc, &mut out, 0);
    out.trim().to_owned()
}

/// Text that may itself be a serialised TipTap document.
pub fn flatten_text(text: &str) -> String {
    match serde_json::from_str::<Value>(text) {
        Ok(doc @ Value::Object(_)) if doc.get("type").and_then(Value::as_str) == Some("doc") => {
            flatten(&doc)
        }
        _ => text.trim().to_owned(),
    }
}

fn walk(node: &Value, out: &mut String, depth: usize) {
    if depth > 64 {
        return;
    }
    let kind = node.get("type").and_then(Value::as_str).unwrap_or("");
    match kind {
        "text" => out.push_str(node.get("text").and_then(Value::as_str).unwrap_or("")),
        "hardBreak" => out.push('\n'),
        _ => {
            if kind == "listItem" {
                out.push_str("- ");
            }
            let start = out.len();
            if let Some(children) = node.get("content").and_then(Value::as_array) {
                for child in children {
                    walk(child, out, depth + 1);
                }
            }
            // A block ends its line; an empty one is a blank line of its own.
            if matches!(
                kind,
                "paragraph" | "heading" | "listItem" | "blockquote" | "codeBlock"
            ) && (!out.ends_with('\n') || out.len() == start)
            {
                out.push('\n');
            }
        }
    }
}

/// A TipTap document with one paragraph per line of `text`.
pub fn document(text: &str) -> Value {
    let paragraphs: Vec<Value> = text
        .split('\n')
        .map(|line| {
            if line.is_empty() {
                json!({"type": "paragraph"})
            } else {
                json!({"type": "paragraph", "content": [{"type": "text", "text": line}]})
            }
        })
        .collect();
    json!({"type": "doc", "content": paragraphs})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_lines_survive_the_round_trip() {
        // Found by the `tiptap` fuzz target: an empty paragraph was dropped.
        for text in ["a\n\nb", "a\n\n\nb", "a\n  \nb", "- one\n\n- two"] {
            assert_eq!(flatten(&document(text)), text);
        }
        let doc = json!({"type": "doc", "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": "Hi"}]},
            {"type": "paragraph"},
            {"type": "paragraph", "content": [{"type": "text", "text": "Thanks"}]}
        ]});
        assert_eq!(flatten(&doc), "Hi\n\nThanks");
    }

    #[test]
    fn flattens_paragraphs_lists_and_breaks() {
        let doc = json!({"type": "doc", "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": "Hello"}, {"type": "hardBreak"}, {"type": "text", "text": "there"}]},
            {"type": "bulletList", "content": [
                {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "one"}]}]},
                {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "two"}]}]}
            ]}
        ]});
        assert_eq!(flatten(&doc), "Hello\nthere\n- one\n- two");
        assert_eq!(flatten_text(&doc.to_string()), "Hello\nthere\n- one\n- two");
        assert_eq!(flatten_text("  plain  "), "plain");
    }

    #[test]
    fn builds_a_document_that_flattens_back() {
        let doc = document("line one\nline two");
        assert_eq!(doc["content"][0]["content"][0]["text"], "line one");
        assert_eq!(flatten(&doc), "line one\nline two");
    }
}
