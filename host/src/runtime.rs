//! The loaded component: one `Engine`, one `Linker`, one `InstancePre`,
//! shared by every session; an epoch ticker bounds guest CPU time.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Engine, StoreLimitsBuilder, UpdateDeadline};

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
}

impl Default for BridgeOptions {
    fn default() -> Self {
        BridgeOptions {
            component: ComponentSource::Embedded,
            guest_time_limit: Duration::from_secs(2),
            memory_limit_bytes: 64 * 1024 * 1024,
            epoch_tick: Duration::from_millis(10),
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
        let engine = Engine::new(&config).map_err(load)?;
        let component = match &options.component {
            ComponentSource::Embedded => Component::new(&engine, EMBEDDED_COMPONENT),
            ComponentSource::File(path) => Component::from_file(&engine, path),
            ComponentSource::Bytes(bytes) => Component::new(&engine, bytes),
        }
        .map_err(|e| HostError::Load(format!("{e:#}")))?;
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
        let limits = StoreLimitsBuilder::new()
            .memory_size(options.memory_limit_bytes)
            .instances(8)
            .build();
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
        store.data_mut().begin_call();
        let bindings = self
            .inner
            .pre
            .instantiate(&mut store)
            .map_err(|e| HostError::Load(format!("{e:#}")))?;
        Ok((store, bindings))
    }
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
