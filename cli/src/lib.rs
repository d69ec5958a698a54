//! glbridge-cli: what the `glbridge` command runs — the bridge as a service
//! (`serve`) and the demo. It uses glbridge-host like any other embedder.

pub mod demo;
pub mod logs;
pub mod serve;
