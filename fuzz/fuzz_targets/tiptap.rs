//! TipTap documents (Gleap's rich text), flattened to plain text; any JSON.
#![no_main]

use glbridge_guest::helpdesk::gleap::tiptap;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(doc) = serde_json::from_slice::<serde_json::Value>(data) {
        let text = tiptap::flatten(&doc);
        // What we write back flattens to the same text.
        assert_eq!(tiptap::flatten(&tiptap::document(&text)), text.trim_end());
    }
    let _ = tiptap::flatten_text(&String::from_utf8_lossy(data));
});
