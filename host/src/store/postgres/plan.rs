//! What a group of calls comes to, decided against the rows the group
//! locked: which calls apply (each all-or-nothing, in order, each seeing the
//! calls before it) and the rows to insert, update and delete so that the
//! table ends as they leave it.

use std::collections::{BTreeMap, HashMap};

use super::super::{CommitError, Write};

/// The rows a group changes.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct RowChanges {
    /// Keys that were absent.
    pub inserts: Vec<(String, Vec<u8>)>,
    /// Keys that were present and now hold another value.
    pub updates: Vec<(String, Vec<u8>)>,
    /// Keys that were present and are gone.
    pub deletes: Vec<String>,
}

impl RowChanges {
    pub(super) fn is_empty(&self) -> bool {
        self.inserts.is_empty() && self.updates.is_empty() && self.deletes.is_empty()
    }
}

/// Decides each call of the group against `current` (the committed values
/// of every key the group writes; absent keys are missing from it). A call
/// applies if each key it wrote still holds its base, as left by the calls
/// before it in the group; `lost[i]` says the call's lease was lost.
///
/// Also returns, for every key of a call that conflicted, the value the
/// group leaves it with: the truth the call's next run should start from
/// (its base may have been a guess, see [`super::super::Backend::base_for_insert`]).
pub(super) fn plan(
    sets: &[impl AsRef<[Write]>],
    lost: &[Option<String>],
    current: &HashMap<String, Vec<u8>>,
) -> (Vec<Result<(), CommitError>>, RowChanges, Learned) {
    let mut state: BTreeMap<&str, Option<&[u8]>> = BTreeMap::new();
    let mut results = Vec::with_capacity(sets.len());
    for (i, writes) in sets.iter().map(AsRef::as_ref).enumerate() {
        if let Some(lane) = lost.get(i).cloned().flatten() {
            results.push(Err(CommitError::LeaseLost(lane)));
            continue;
        }
        let now = |key: &str, state: &BTreeMap<&str, Option<&[u8]>>| -> Option<Vec<u8>> {
            match state.get(key) {
                Some(v) => v.map(<[u8]>::to_vec),
                None => current.get(key).cloned(),
            }
        };
        if let Some(w) = writes.iter().find(|w| now(&w.key, &state) != w.base) {
            results.push(Err(CommitError::Conflict(w.key.clone())));
            continue;
        }
        for w in writes {
            state.insert(&w.key, w.value.as_deref());
        }
        results.push(Ok(()));
    }
    let mut learned = Vec::new();
    for (writes, result) in sets.iter().map(AsRef::as_ref).zip(&results) {
        if matches!(result, Err(CommitError::Conflict(_))) {
            for w in writes {
                let after = match state.get(w.key.as_str()) {
                    Some(v) => v.map(<[u8]>::to_vec),
                    None => current.get(&w.key).cloned(),
                };
                learned.push((w.key.clone(), after));
            }
        }
    }
    let mut rows = RowChanges::default();
    for (key, value) in state {
        match (current.get(key), value) {
            (None, Some(v)) => rows.inserts.push((key.to_owned(), v.to_vec())),
            (Some(old), Some(v)) if old.as_slice() != v => {
                rows.updates.push((key.to_owned(), v.to_vec()))
            }
            (Some(_), None) => rows.deletes.push(key.to_owned()),
            _ => {}
        }
    }
    (results, rows, learned)
}

/// Keys and the values a group left them with (`None`: absent).
pub(super) type Learned = Vec<(String, Option<Vec<u8>>)>;

#[cfg(test)]
mod tests {
    use super::*;

    fn w(key: &str, base: Option<&str>, value: Option<&str>) -> Write {
        Write {
            key: key.into(),
            base: base.map(|b| b.as_bytes().to_vec()),
            value: value.map(|v| v.as_bytes().to_vec()),
        }
    }

    #[test]
    fn later_calls_see_earlier_ones_and_a_conflict_applies_nothing_of_its_call() {
        let current = HashMap::from([
            ("a".to_owned(), b"1".to_vec()),
            ("gone".to_owned(), b"x".to_vec()),
        ]);
        let sets = vec![
            vec![w("a", Some("1"), Some("2")), w("new", None, Some("n"))],
            // Based on the value before the first call: a conflict.
            vec![w("a", Some("1"), Some("3")), w("other", None, Some("o"))],
            // Based on what the first call left.
            vec![w("a", Some("2"), Some("4")), w("gone", Some("x"), None)],
            vec![w("b", None, Some("b"))],
        ];
        let lost = vec![None, None, None, Some("lane".to_owned())];
        let (results, rows, learned) = plan(&sets, &lost, &current);
        assert_eq!(
            results,
            vec![
                Ok(()),
                Err(CommitError::Conflict("a".into())),
                Ok(()),
                Err(CommitError::LeaseLost("lane".into()))
            ]
        );
        assert_eq!(
            rows,
            RowChanges {
                inserts: vec![("new".into(), b"n".to_vec())],
                updates: vec![("a".into(), b"4".to_vec())],
                deletes: vec!["gone".into()],
            }
        );
        // The call that conflicted learns what the group left.
        assert_eq!(
            learned,
            vec![
                ("a".to_owned(), Some(b"4".to_vec())),
                ("other".to_owned(), None)
            ]
        );
    }

    #[test]
    fn a_key_written_back_to_its_value_is_no_row_change() {
        let current = HashMap::from([("a".to_owned(), b"1".to_vec())]);
        let sets = vec![
            vec![w("a", Some("1"), Some("2")), w("t", None, Some("t"))],
            vec![w("a", Some("2"), Some("1")), w("t", Some("t"), None)],
        ];
        let (results, rows, _) = plan(&sets, &[None, None], &current);
        assert!(results.iter().all(Result::is_ok));
        assert!(rows.is_empty(), "{rows:?}");
    }
}
