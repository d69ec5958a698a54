//! Builds the guest crate for `wasm32-unknown-unknown` and encodes it as a
//! component with `wit-component`, so the host embeds the component it was
//! built with: the `bridge` world always, and with the `worlds` feature the
//! `verifier` and `client` worlds too (`glbridge component --world`).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// One world: its file in `OUT_DIR`, the guest's features that select it,
/// and its own target directory. Features change the guest crate's output
/// without changing its file name, so one directory per world keeps cargo's
/// freshness checks from handing one world's wasm to another.
struct World {
    file: &'static str,
    features: &'static [&'static str],
    target: &'static str,
    /// Its cargo profile when `GLBRIDGE_GUEST_PROFILE` does not name one.
    profile: &'static str,
}

const BRIDGE: World = World {
    file: "glbridge.wasm",
    features: &["bridge"],
    target: "guest",
    profile: "guest",
};
const SMALLER: [World; 2] = [
    World {
        file: "verifier.wasm",
        features: &[],
        target: "guest-verifier",
        // Held to 250 KB: optimised for size but for SHA-256 (Cargo.toml).
        profile: "verifier",
    },
    World {
        file: "client.wasm",
        features: &["client"],
        target: "guest-client",
        profile: "guest",
    },
];

fn main() -> Result<()> {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let root = manifest_dir
        .parent()
        .context("host/ has a parent")?
        .to_path_buf();
    for path in [
        "guest/src",
        "guest/Cargo.toml",
        "wit",
        "Cargo.toml",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(path).display());
    }
    println!("cargo:rerun-if-env-changed=GLBRIDGE_GUEST_PROFILE");
    let profile = env::var("GLBRIDGE_GUEST_PROFILE").ok();
    let out = PathBuf::from(env::var("OUT_DIR")?);
    let profile_of = |w: &World| profile.clone().unwrap_or_else(|| w.profile.to_owned());
    build(&root, &profile_of(&BRIDGE), &BRIDGE, &out)?;
    if env::var_os("CARGO_FEATURE_WORLDS").is_some() {
        for world in &SMALLER {
            build(&root, &profile_of(world), world, &out)?;
        }
    }
    Ok(())
}

fn build(root: &Path, profile: &str, world: &World, out: &Path) -> Result<()> {
    // Separate target directories: the outer cargo holds the lock on its own.
    let target_dir = root.join("target").join(world.target);
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(root)
        .args([
            "build",
            "--locked",
            "-p",
            "glbridge-guest",
            "--lib",
            "--target",
            "wasm32-unknown-unknown",
            "--no-default-features",
        ])
        .arg("--features")
        .arg(world.features.join(","))
        .arg("--profile")
        .arg(profile)
        .arg("--target-dir")
        .arg(&target_dir)
        // Flags meant for the host build (coverage, clippy's wrapper) must not
        // leak into the wasm build.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .status()
        .context("running cargo for the guest")?;
    if !status.success() {
        bail!(
            "building the guest ({}) for wasm32-unknown-unknown failed ({status}); \
             is the target installed? run: rustup target add wasm32-unknown-unknown",
            world.file
        );
    }
    let dir = if profile == "dev" { "debug" } else { profile };
    let core = target_dir
        .join("wasm32-unknown-unknown")
        .join(dir)
        .join("glbridge_guest.wasm");
    let module = std::fs::read(&core).with_context(|| format!("reading {}", core.display()))?;
    let component = wit_component::ComponentEncoder::default()
        .module(&module)
        .context("reading the guest's component-type section")?
        .validate(true)
        .encode()
        .context("encoding the component")?;
    let path = out.join(world.file);
    std::fs::write(&path, component).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
