#!/usr/bin/env bash
# Installs what is missing, then checks formatting, lints and runs every test.
#
# Usage: scripts/test.sh [extra arguments for cargo nextest run / cargo test...]
#
# End-to-end tests find the real clients through these variables (set here
# unless already set):
#   SKIFF_KUBECTL  kubectl v1.35      ($SKIFF_TOOLS_DIR/bin/kubectl)
#   SKIFF_HELM     helm v4            ($SKIFF_TOOLS_DIR/bin/helm)
#   SKIFF_PYTHON   Python with the `kubernetes` client ($SKIFF_TOOLS_DIR/venv/bin/python)
# With CI=true a missing prerequisite fails the run instead of being skipped, and
# builds go to /var/cache/skiff-target (outside the clone) so later runs reuse them.
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_DIR="${SKIFF_TOOLS_DIR:-/var/lib/skiff-tools}"

log() { printf 'test: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

is_ci() { [[ "${CI:-}" == "true" || "${CI:-}" == "1" ]]; }

export_tool_paths() {
    export SKIFF_TOOLS_DIR="$TOOLS_DIR"
    export SKIFF_KUBECTL="${SKIFF_KUBECTL:-$TOOLS_DIR/bin/kubectl}"
    export SKIFF_HELM="${SKIFF_HELM:-$TOOLS_DIR/bin/helm}"
    export SKIFF_PYTHON="${SKIFF_PYTHON:-$TOOLS_DIR/venv/bin/python}"
    if is_ci; then
        export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/skiff-target}"
        # Tests read this to fail, never skip, when a tool or a privilege is missing.
        export SKIFF_REQUIRE_E2E=1
    fi
}

check_prerequisites() {
    local tool
    for tool in "$SKIFF_KUBECTL" "$SKIFF_HELM" "$SKIFF_PYTHON"; do
        [[ -x "$tool" ]] || die "$tool is missing or not executable"
    done
    cargo fmt --version >/dev/null 2>&1 || die "rustfmt is missing (rustup component add rustfmt)"
    cargo clippy --version >/dev/null 2>&1 || die "clippy is missing (rustup component add clippy)"
}

run_tests() {
    if cargo nextest --version >/dev/null 2>&1; then
        log "cargo nextest run --workspace"
        cargo nextest run --workspace --no-fail-fast "$@"
        # nextest does not run doctests.
        log "cargo test --workspace --doc"
        cargo test --workspace --doc
    else
        log "cargo test --workspace"
        cargo test --workspace --no-fail-fast "$@"
    fi
}

main() {
    cd "$REPO_DIR"
    "$REPO_DIR/scripts/install-deps.sh"
    if ! command -v cargo >/dev/null && [[ -x "$HOME/.cargo/bin/cargo" ]]; then
        export PATH="$HOME/.cargo/bin:$PATH"
    fi
    export_tool_paths
    check_prerequisites
    log "kubectl=$SKIFF_KUBECTL helm=$SKIFF_HELM python=$SKIFF_PYTHON"
    log "target dir: ${CARGO_TARGET_DIR:-$REPO_DIR/target}"

    log "cargo fmt --check"
    cargo fmt --all --check
    log "cargo clippy --workspace --all-targets -- -D warnings"
    cargo clippy --workspace --all-targets -- -D warnings
    run_tests "$@"
    log "all checks passed"
}

main "$@"
