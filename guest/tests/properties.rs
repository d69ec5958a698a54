//! Properties over arbitrary input: the guest never panics, and what it
//! signs it verifies.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use glbridge_guest::helpdesk::gleap::parse_action;
use glbridge_guest::webhook::{parse, sign, verify, WebhookError};
use proptest::prelude::*;

proptest! {
    #[test]
    fn signed_bodies_verify_and_any_change_does_not(key in ".{1,64}", t in 0i64..4_000_000_000, body in proptest::collection::vec(any::<u8>(), 0..512), flip in any::<prop::sample::Index>()) {
        let header = sign(&key, t, &body);
        prop_assert_eq!(verify(&key, &header, &body, t, 300), Ok(()));
        if !body.is_empty() {
            let mut tampered = body.clone();
            let i = flip.index(tampered.len());
            tampered[i] ^= 0x01;
            prop_assert_eq!(verify(&key, &header, &tampered, t, 300), Err(WebhookError::SignatureMismatch));
        }
    }

    #[test]
    fn verification_never_panics(header in ".{0,300}", body in proptest::collection::vec(any::<u8>(), 0..256), now in any::<i64>(), leeway in any::<u32>()) {
        let _ = verify("key", &header, &body, now, leeway);
    }

    #[test]
    fn parsing_never_panics(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse(&body, None);
        let _ = parse_action(&body);
    }

    #[test]
    fn json_shaped_input_never_panics(kind in "(agent.message|conversation.hand_off|action.execute|x)", seq in any::<u64>(), data in "[{}\\[\\]\"a-z:,0-9 ]{0,80}") {
        let body = format!(r#"{{"id":"e","type":"{kind}","sequence_number":{seq},"data":{data}}}"#);
        let _ = parse(body.as_bytes(), Some("t"));
        let _ = glbridge_guest::protocol::operation("conversations.start", &data);
        let _ = parse_action(format!(r#"{{"conversation":{{"id":"1"}},"session":{{"userId":"u"}},"comments":{data}}}"#).as_bytes());
    }

    #[test]
    fn operations_never_panic_on_arbitrary_params(name in "(conversations|knowledge|management)\\.[a-z-]{2,30}", params in ".{0,120}") {
        let config = glbridge_guest::Config::new("https://api.example.test", "k");
        if let Ok(op) = glbridge_guest::protocol::operation(&name, &params) {
            let _ = op.build(&config);
        }
    }
}
