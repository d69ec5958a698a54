//! What one instance may take: a cap on linear memory (and on instances,
//! tables and memories), and a record of how much memory it holds.

use wasmtime::ResourceLimiter;

/// The limiter of one wasmtime `Store`.
pub(crate) struct Limits {
    memory_limit: usize,
    /// Linear memory the instance holds now, in bytes.
    pub(crate) memory_bytes: usize,
}

impl Limits {
    pub(crate) fn new(memory_limit: usize) -> Self {
        Limits {
            memory_limit,
            memory_bytes: 0,
        }
    }
}

impl ResourceLimiter for Limits {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_limit {
            return Ok(false);
        }
        // Called for each memory's creation too (`current` = 0).
        self.memory_bytes = self.memory_bytes.saturating_sub(current) + desired;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }

    fn instances(&self) -> usize {
        8
    }

    fn tables(&self) -> usize {
        8
    }

    fn memories(&self) -> usize {
        8
    }
}
