//! The loaded component: one `Engine`, one `Linker`, one `InstancePre`,
//! shared by every session; an epoch ticker bounds guest CPU time.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Engine, UpdateDeadline};

use crate::bindings;
use crate::env::{Env, HostState};
use crate::error::HostError;
use crate::session::Session;

/// The component built from `guest/` when this crate was compiled.
pub static EMBEDDED_COMPONENT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/glbridge.wasm"));

/// Where the component comes from.
#[derive(Debug, Clone, Default)]
pub enum ComponentSource {
    /// The one embedded at build time.
    #[default]
    Embedded,
    /// A component file.
    File(PathBuf),
    /// Component bytes.
    Bytes(Vec<u8>),
}

/// How a [`Bridge`] loads and bounds the component.
#[derive(Debug, Clone)]
pub struct BridgeOptions {
    /// Which component to load.
    pub component: ComponentSource,
    /// Most guest CPU time one export call may use (time spent in imports —
    /// HTTP, sleeps, store — does not count).
    pub guest_time_limit: Duration,
    /// Most linear memory one instance may grow to, in bytes.
    pub memory_limit_bytes: usize,
    /// How often the epoch advances (the granularity of the time limit).
    pub epoch_tick: Duration,
    /// Where compiled components are cached between runs (`None`: compile
    /// every time). Defaults to `$GLBRIDGE_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/glbridge`, else `~/.cache/glbridge`.
    pub cache_dir: Option<PathBuf>,
    /// How instances get their memory: made on demand, or taken from a pool
    /// of slots reserved up front (faster to make, costs address space).
    pub allocator: InstanceAllocator,
}

/// Where a new instance's memory, tables and stack come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceAllocator {
    /// Allocated (and freed) with each instance.
    OnDemand,
    /// wasmtime's pooling allocator: this many instance slots are reserved
    /// up front (virtual memory of `memory_limit_bytes` plus guard pages
    /// each) and reused; more live instances than slots fail to instantiate.
    Pooling {
        /// Most instances alive at once.
        instances: u32,
    },
}

/// The default compiled-component cache directory.
pub fn default_cache_dir() -> Option<PathBuf> {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("GLBRIDGE_CACHE_DIR")
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("glbridge")))
        .or_else(|| var("HOME").map(|d| d.join(".cache").join("glbridge")))
}

impl Default for BridgeOptions {
    fn default() -> Self {
        BridgeOptions {
            component: ComponentSource::Embedded,
            guest_time_limit: Duration::from_secs(2),
            memory_limit_bytes: 64 * 1024 * 1024,
            epoch_tick: Duration::from_millis(10),
            cache_dir: default_cache_dir(),
            allocator: InstanceAllocator::OnDemand,
        }
    }
}

struct Inner {
    engine: Engine,
    pre: bindings::BridgePre<HostState>,
    options: BridgeOptions,
}

/// The compiled, linked component. Cheap to clone; make one per process and
/// a [`Session`] per thread or request.
#[derive(Clone)]
pub struct Bridge {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Bridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bridge")
            .field("options", &self.inner.options)
            .finish()
    }
}

fn load(e: impl std::fmt::Display) -> HostError {
    HostError::Load(e.to_string())
}

impl Bridge {
    /// Compiles and links the component.
    pub fn new(options: BridgeOptions) -> Result<Self, HostError> {
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        if let InstanceAllocator::Pooling { instances } = options.allocator {
            let mut pool = wasmtime::PoolingAllocationConfig::new();
            // The guest is one core module with one memory and one table;
            // wit-component adds a few shim instances per component.
            pool.total_component_instances(instances)
                .total_core_instances(instances.saturating_mul(4))
                .total_memories(instances)
                .total_tables(instances.saturating_mul(2))
                .max_memory_size(options.memory_limit_bytes);
            config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
        }
        let engine = Engine::new(&config).map_err(load)?;
        let owned;
        let bytes: &[u8] = match &options.component {
            ComponentSource::Embedded => EMBEDDED_COMPONENT,
            ComponentSource::File(path) => {
                owned = std::fs::read(path)
                    .map_err(|e| HostError::Load(format!("{}: {e}", path.display())))?;
                &owned
            }
            ComponentSource::Bytes(bytes) => bytes,
        };
        let component = compile_cached(&engine, bytes, options.cache_dir.as_deref())?;
        let mut linker = Linker::<HostState>::new(&engine);
        bindings::Bridge::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)
            .map_err(load)?;
        let pre = linker
            .instantiate_pre(&component)
            .map_err(|e| HostError::Load(format!("{e:#}")))?;
        let pre = bindings::BridgePre::new(pre).map_err(|e| HostError::Load(format!("{e:#}")))?;
        spawn_epoch_ticker(&engine, options.epoch_tick);
        Ok(Bridge {
            inner: Arc::new(Inner {
                engine,
                pre,
                options,
            }),
        })
    }

    /// A session: one instance (made on first use) with these imports.
    pub fn session(&self, env: Env) -> Session {
        Session::new(self.clone(), env)
    }

    /// The options it was made with.
    pub fn options(&self) -> &BridgeOptions {
        &self.inner.options
    }

    /// A fresh instance with its own store, limits and deadline accounting.
    pub(crate) fn instantiate(
        &self,
        env: &Env,
    ) -> Result<(wasmtime::Store<HostState>, bindings::Bridge), HostError> {
        let options = &self.inner.options;
        let limits = crate::limits::Limits::new(options.memory_limit_bytes);
        let mut store = wasmtime::Store::new(
            &self.inner.engine,
            HostState::new(env.clone(), limits, options.guest_time_limit),
        );
        store.limiter(|s| &mut s.limits);
        // Each tick checks the guest's own CPU time, so waiting on imports
        // (a slow HTTP answer, a back-off sleep) never counts against it.
        store.epoch_deadline_callback(|ctx| {
            let state = ctx.data();
            if state.guest_time() > state.guest_time_limit {
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Continue(1))
            }
        });
        store.set_epoch_deadline(1);
        store.data_mut().begin_call(false);
        let bindings = self
            .inner
            .pre
            .instantiate(&mut store)
            .map_err(|e| HostError::Load(format!("{e:#}")))?;
        Ok((store, bindings))
    }
}

/// Compiles the component, or loads what an earlier run compiled from the
/// same bytes with a compatible engine.
fn compile_cached(
    engine: &Engine,
    bytes: &[u8],
    cache_dir: Option<&std::path::Path>,
) -> Result<Component, HostError> {
    use std::hash::{Hash, Hasher};
    let compile = || Component::new(engine, bytes).map_err(|e| HostError::Load(format!("{e:#}")));
    let Some(dir) = cache_dir else {
        return compile();
    };
    // The key covers the component's bytes and everything about the engine
    // that makes compiled code incompatible (version, target, settings).
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    bytes.hash(&mut hasher);
    bytes.len().hash(&mut hasher);
    let path = dir.join(format!("glbridge-{:016x}.cwasm", hasher.finish()));
    if path.exists() {
        // SAFETY: the file was written by `Component::serialize` below for
        // these exact bytes and this engine configuration, in a directory
        // owned by the user running glbridge; wasmtime also checks its
        // header and refuses files from other versions or settings.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(c) => return Ok(c),
            Err(e) => tracing::warn!(
                "ignoring the compiled-component cache {}: {e}",
                path.display()
            ),
        }
    }
    let component = compile()?;
    let written = component
        .serialize()
        .map_err(|e| e.to_string())
        .and_then(|compiled| {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
            // Write aside, then rename: a reader never sees half a file.
            let tmp = path.with_extension(format!("tmp{}", std::process::id()));
            std::fs::write(&tmp, compiled).map_err(|e| e.to_string())?;
            std::fs::rename(&tmp, &path).map_err(|e| e.to_string())
        });
    if let Err(e) = written {
        tracing::debug!(
            "not caching the compiled component in {}: {e}",
            dir.display()
        );
    }
    Ok(component)
}

/// Advances the engine's epoch every `tick` until the engine is dropped.
fn spawn_epoch_ticker(engine: &Engine, tick: Duration) {
    let weak = engine.weak();
    let spawned = std::thread::Builder::new()
        .name("glbridge-epoch".into())
        .spawn(move || loop {
            std::thread::sleep(tick);
            match weak.upgrade() {
                Some(engine) => engine.increment_epoch(),
                None => break,
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("no epoch ticker ({e}); guest calls are not time-bounded");
    }
}
