//! The `bridge` world's `ordering`: the webhook sequencer, kept in the store.

use super::exports::gradient_labs::bridge::ordering as word;
use super::webhooks::{event_in, event_out};
use super::{error, wt, Component, Imports};
use crate::env::Clock;
use crate::webhook::sequencer as seq;

fn released_out(r: seq::Released) -> word::Released {
    word::Released {
        event: event_out(r.event),
        gap: r.gap.map(|g| word::Gap {
            first_missing: g.first_missing,
            last_missing: g.last_missing,
        }),
        late: r.late,
    }
}

/// The exported `sequencer` resource.
pub struct BridgeSequencer(seq::Sequencer);

impl word::GuestSequencer for BridgeSequencer {
    fn new(namespace: String, max_hold_ns: u64, first_sequence_number: u64) -> Self {
        BridgeSequencer(seq::Sequencer::new(
            namespace,
            max_hold_ns,
            first_sequence_number,
        ))
    }

    fn offer(&self, event: word::Event) -> Result<word::OfferOutcome, wt::Error> {
        let event = event_in(event)?;
        let outcome = self
            .0
            .offer(&Imports, event, Imports.now())
            .map_err(error)?;
        Ok(word::OfferOutcome {
            duplicate: outcome.duplicate,
            released: outcome.released.into_iter().map(released_out).collect(),
        })
    }

    fn poll(&self) -> Result<Vec<word::Released>, wt::Error> {
        let released = self.0.poll(&Imports, Imports.now()).map_err(error)?;
        Ok(released.into_iter().map(released_out).collect())
    }
}

impl word::Guest for Component {
    type Sequencer = BridgeSequencer;
}
