//! Test support shared by the runtime's end-to-end tests: prerequisites, reproducible
//! busybox images (OCI layout, OCI archive, `docker save` archive) and a real local registry.
//!
//! Include it from a test file with `mod support;`. Not every test uses every helper.
#![allow(dead_code)]

pub mod image;
pub mod registry;

pub use image::*;

use std::path::Path;

/// Whether missing prerequisites must fail tests instead of skipping them
/// (`SKIFF_REQUIRE_E2E=1` or `CI=true`).
pub fn e2e_required() -> bool {
    std::env::var("SKIFF_REQUIRE_E2E").is_ok_and(|v| v == "1")
        || std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Checks that each program is on PATH and that we run as root. Returns false (after a loud
/// message) when something is missing, so the test can return early; panics instead when
/// end-to-end tests are required.
pub fn prerequisites(test: &str, programs: &[&str]) -> bool {
    let mut missing: Vec<String> = programs
        .iter()
        .filter(|p| find_program(p).is_none())
        .map(|p| (*p).to_owned())
        .collect();
    if !rustix::process::geteuid().is_root() {
        missing.push("root privileges".to_owned());
    }
    if missing.is_empty() {
        return true;
    }
    let message = format!(
        "{test}: missing {} (run scripts/install-deps.sh as root)",
        missing.join(", ")
    );
    assert!(!e2e_required(), "{message}");
    eprintln!("\n!!! SKIPPED {message} !!!\n");
    false
}

/// The full path of a program on PATH.
pub fn find_program(name: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
