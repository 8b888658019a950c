#!/usr/bin/env bash
# Installs what is missing, builds skiff in release mode and runs `skiff server`.
#
# Usage: scripts/server.sh [skiff server arguments...]
#
# Without --data-dir the server keeps its state in $SKIFF_DATA_DIR (default
# /var/lib/skiff); the admin kubeconfig is written there as admin.kubeconfig.
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA_DIR="${SKIFF_DATA_DIR:-/var/lib/skiff}"

log() { printf 'server: %s\n' "$*" >&2; }

# Finds the data directory among the arguments, or adds the default one.
resolve_data_dir() {
    local arg previous=""
    for arg in "$@"; do
        case "$arg" in
            --data-dir=*) DATA_DIR="${arg#--data-dir=}"; return 1 ;;
        esac
        if [[ "$previous" == "--data-dir" ]]; then
            DATA_DIR="$arg"
            return 1
        fi
        previous="$arg"
    done
    return 0
}

main() {
    "$REPO_DIR/scripts/install-deps.sh" --no-test-tools
    if ! command -v cargo >/dev/null && [[ -x "$HOME/.cargo/bin/cargo" ]]; then
        export PATH="$HOME/.cargo/bin:$PATH"
    fi

    log "building skiff (release)"
    cargo build --release -p skiff --manifest-path "$REPO_DIR/Cargo.toml"
    local target_dir="${CARGO_TARGET_DIR:-$REPO_DIR/target}"

    local args=("$@")
    if resolve_data_dir "$@"; then
        args=(--data-dir "$DATA_DIR" "${args[@]}")
    fi
    mkdir -p "$DATA_DIR"
    log "data directory: $DATA_DIR"
    log "admin kubeconfig: $DATA_DIR/admin.kubeconfig (export KUBECONFIG=$DATA_DIR/admin.kubeconfig)"
    exec "$target_dir/release/skiff" server "${args[@]}"
}

main "$@"
