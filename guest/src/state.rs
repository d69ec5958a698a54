//! Typed state in a [`Store`]: the one place that encodes and decodes values,
//! maps store failures to [`Error::Store`], and runs the compare-and-swap
//! loop. The sequencer and the helpdesk adapters all keep their state
//! through it.

use serde::{de::DeserializeOwned, Serialize};

use crate::env::{Store, StoreError};
use crate::error::{Error, Result};

/// Compare-and-swap rounds before a key counts as too contended.
const CAS_ROUNDS: usize = 64;

/// A store failure as a library error.
pub fn store_error(e: StoreError) -> Error {
    Error::Store { message: e.0 }
}

/// Decodes a stored value.
pub fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| Error::Store {
        message: format!("unreadable state at {key}: {e}"),
    })
}

/// Encodes a value for the store.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| Error::Store {
        message: format!("encode: {e}"),
    })
}

/// Reads `key`: its raw bytes and the decoded value (`None` when absent).
pub fn read<T: DeserializeOwned>(
    store: &dyn Store,
    key: &str,
) -> Result<(Option<Vec<u8>>, Option<T>)> {
    let raw = store.get(key).map_err(store_error)?;
    let value = raw.as_deref().map(|b| decode(key, b)).transpose()?;
    Ok((raw, value))
}

/// Reads `key`, or `T::default()` when absent.
pub fn get_or_default<T: DeserializeOwned + Default>(store: &dyn Store, key: &str) -> Result<T> {
    Ok(read(store, key)?.1.unwrap_or_default())
}

/// Writes `key` if it is absent; whether it was.
pub fn insert_new<T: Serialize>(store: &dyn Store, key: &str, value: &T) -> Result<bool> {
    store
        .compare_and_swap(key, None, Some(&encode(value)?))
        .map_err(store_error)
}

/// Deletes `key` if it still holds `expected`.
pub fn remove(store: &dyn Store, key: &str, expected: &[u8]) -> Result<bool> {
    store
        .compare_and_swap(key, Some(expected), None)
        .map_err(store_error)
}

/// Deletes `key` whatever it holds; whether it was there.
pub fn delete(store: &dyn Store, key: &str) -> Result<bool> {
    match store.get(key).map_err(store_error)? {
        Some(raw) => remove(store, key, &raw),
        None => Ok(false),
    }
}

/// What an update does with its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    /// Nothing changed: write nothing (not even an encoding to compare).
    Keep,
    /// Store the updated value (if it differs).
    Write,
    /// Delete the key.
    Delete,
}

/// Read-modify-write of one key by compare-and-swap: `f` gets the current
/// value (or `init()` when absent) and returns its result and what to do
/// with the key. Writes nothing when nothing changed.
pub fn update_with<T, R>(
    store: &dyn Store,
    key: &str,
    init: impl Fn() -> T,
    mut f: impl FnMut(&mut T) -> (R, Then),
) -> Result<R>
where
    T: DeserializeOwned + Serialize,
{
    for _ in 0..CAS_ROUNDS {
        let (old, value) = read::<T>(store, key)?;
        let mut value = value.unwrap_or_else(&init);
        let (r, then) = f(&mut value);
        let new = match then {
            Then::Keep => return Ok(r),
            Then::Write => Some(encode(&value)?),
            Then::Delete => None,
        };
        if old == new {
            return Ok(r);
        }
        if store
            .compare_and_swap(key, old.as_deref(), new.as_deref())
            .map_err(store_error)?
        {
            return Ok(r);
        }
    }
    Err(Error::Store {
        message: format!("{key} is too contended"),
    })
}

/// [`update_with`] for values with a default, never deleted.
pub fn update<T, R>(store: &dyn Store, key: &str, mut f: impl FnMut(&mut T) -> R) -> Result<R>
where
    T: DeserializeOwned + Serialize + Default,
{
    update_with(store, key, T::default, |v| (f(v), Then::Write))
}

/// Takes a named lock for the rest of the call (see [`Store::lock`]).
pub fn lock(store: &dyn Store, name: &str) -> Result<()> {
    store.lock(name).map_err(store_error)
}
