#!/usr/bin/env bash
# Builds edgebench for NVIDIA Jetson boards: aarch64 Linux, glibc 2.27 or newer (JetPack 4.6 is
# Ubuntu 18.04 with glibc 2.27; every later JetPack has a newer glibc, which runs it too).
#
# cargo-zigbuild links through zig against glibc 2.27's symbol versions, so the binary needs no
# symbol newer than 2.27 whatever glibc this machine has. Output (its path is printed on stdout):
#   ${CARGO_TARGET_DIR:-target}/aarch64-unknown-linux-gnu/release/edgebench
#
# Usage: scripts/build-jetson.sh [--no-install] [-- EXTRA CARGO ARGS]
#        scripts/build-jetson.sh --verify FILE
#   --no-install   only check the prerequisites; do not add the rust target or pip packages
#   --verify FILE  only run the build's final checks on FILE (e.g. a binary built elsewhere)
# Environment: PYTHON (the python whose pip gets ziglang and cargo-zigbuild; default python3),
#   CARGO_TARGET_DIR (honoured, as by cargo).
set -euo pipefail

readonly TARGET=aarch64-unknown-linux-gnu
readonly GLIBC=2.27
# Verified together on Debian 12 x86_64 with Rust 1.95.
readonly ZIGLANG_VERSION=0.17.1
readonly ZIGBUILD_VERSION=0.24.1
# What the binary may link: glibc's own libraries and libgcc_s, part of every JetPack's base
# system. The engines' libraries are loaded at run time and must stay so.
readonly ALLOWED_NEEDED="libc.so.6 libm.so.6 libpthread.so.0 libdl.so.2 librt.so.1 libutil.so.1 ld-linux-aarch64.so.1 libgcc_s.so.1"

die() { echo "build-jetson: $*" >&2; exit 2; }
note() { echo "build-jetson: $*" >&2; }

# readelf reads any ELF, whatever machine it was built for; binutils has it, and so do LLVM's
# tools.
find_readelf() {
    for r in readelf llvm-readelf aarch64-linux-gnu-readelf; do
        if command -v "$r" >/dev/null; then echo "$r"; return; fi
    done
    die "no readelf found (needed to check the binary's glibc symbols); fix: apt-get install binutils"
}

# Fails unless $1 is an aarch64 executable whose newest glibc symbol version is at most $GLIBC
# and that links only libraries every JetPack has.
verify() {
    local bin=$1 readelf machine newest needs needed lib
    readelf=$(find_readelf)
    [ -f "$bin" ] || die "$bin does not exist; fix: give the path of an edgebench binary"
    machine=$("$readelf" -h "$bin" 2>/dev/null | sed -n 's/^ *Machine: *//p' || true)
    case "$machine" in
        *AArch64*) ;;
        *) die "$bin is built for '${machine:-not an ELF file}', not AArch64; fix: build it with this script" ;;
    esac
    # The loader refuses to start a binary if any version it needs (.gnu.version_r, lines
    # "Name: GLIBC_2.17  Flags: none  Version: 3" in GNU and LLVM readelf) is missing.
    newest=$("$readelf" -V -W "$bin" \
        | awk '/^Version needs section/ {n = 1; next} /^Version (symbols|definition)/ {n = 0} n' \
        | grep -o 'Name: GLIBC_[0-9][0-9.]*' | sed 's/^Name: GLIBC_//' | sort -u -V | tail -n 1 || true)
    [ -n "$newest" ] || die "$readelf found no GLIBC version needed by $bin; fix: build a dynamically linked glibc binary with this script"
    if [ "$(printf '%s\n%s\n' "$newest" "$GLIBC" | sort -V | tail -n 1)" != "$GLIBC" ]; then
        needs=$("$readelf" --dyn-syms -W "$bin" | awk '$7 == "UND" {print $8}' \
            | grep "@GLIBC_$newest\$" | sed 's/@.*//' | sort -u | tr '\n' ' ' || true)
        needs=${needs% }
        die "$bin needs GLIBC_$newest (${needs:-no symbol named}), newer than JetPack 4.6's glibc $GLIBC; fix: build it with this script (cargo zigbuild --target $TARGET.$GLIBC), not plain cargo"
    fi
    needed=$("$readelf" -d -W "$bin" | sed -n 's/.*NEEDED.*\[\(.*\)\]/\1/p')
    for lib in $needed; do
        case " $ALLOWED_NEEDED " in
            *" $lib "*) ;;
            *) die "$bin links $lib, which JetPack 4.6 may not have; fix: load it at run time (as the engines do) or drop the dependency that links it" ;;
        esac
    done
    note "verified $bin: AArch64, newest glibc symbol version GLIBC_$newest (<= $GLIBC), links only $(echo $needed | tr ' ' ',')"
}

install=1
extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        --no-install) install=0 ;;
        --verify)
            [ $# -ge 2 ] || die "--verify needs a FILE; fix: scripts/build-jetson.sh --verify path/to/edgebench"
            verify "$2"
            exit 0 ;;
        -h | --help) sed -n '2,14s/^# \{0,1\}//p' "$0"; exit 0 ;;
        --) shift; extra=("$@"); break ;;
        *) die "unknown argument '$1'; fix: see scripts/build-jetson.sh --help" ;;
    esac
    shift
done

# A relative CARGO_TARGET_DIR means the caller's directory, as it would for cargo itself.
if [ -n "${CARGO_TARGET_DIR:-}" ] && [ "${CARGO_TARGET_DIR#/}" = "$CARGO_TARGET_DIR" ]; then
    export CARGO_TARGET_DIR="$PWD/$CARGO_TARGET_DIR"
fi
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
command -v cargo >/dev/null || die "cargo not found; fix: install Rust with rustup (https://rustup.rs)"
command -v rustup >/dev/null || die "rustup not found (needed to add the $TARGET standard library); fix: install Rust with rustup (https://rustup.rs)"
command -v "$PYTHON" >/dev/null || die "$PYTHON not found (needed for ziglang and cargo-zigbuild); fix: apt-get install python3 python3-pip, or set PYTHON=/path/to/python3"
PYTHON=$(command -v "$PYTHON")
find_readelf >/dev/null

# 1. The rust standard library for the target.
if ! rustup target list --installed | grep -qx "$TARGET"; then
    [ "$install" = 1 ] || die "rust target $TARGET is not installed; fix: rustup target add $TARGET"
    note "adding rust target $TARGET"
    rustup target add "$TARGET" >&2 || die "rustup could not add $TARGET; fix: run 'rustup target add $TARGET' and read its error"
fi

# 2. zig (PyPI's ziglang) and cargo-zigbuild, at the pinned versions, for $PYTHON.
pip_version() { "$PYTHON" -m pip show "$1" 2>/dev/null | sed -n 's/^Version: //p'; }
pip_fix="$PYTHON -m pip install ziglang==$ZIGLANG_VERSION cargo-zigbuild==$ZIGBUILD_VERSION"
if [ "$(pip_version ziglang)" != "$ZIGLANG_VERSION" ] || [ "$(pip_version cargo-zigbuild)" != "$ZIGBUILD_VERSION" ]; then
    [ "$install" = 1 ] || die "ziglang $ZIGLANG_VERSION and cargo-zigbuild $ZIGBUILD_VERSION are not both installed for $PYTHON; fix: $pip_fix"
    "$PYTHON" -m pip --version >/dev/null 2>&1 || die "$PYTHON has no pip; fix: apt-get install python3-pip (or set PYTHON to a python that has pip)"
    note "installing ziglang==$ZIGLANG_VERSION cargo-zigbuild==$ZIGBUILD_VERSION for $PYTHON"
    if ! log=$("$PYTHON" -m pip install --quiet --disable-pip-version-check \
        "ziglang==$ZIGLANG_VERSION" "cargo-zigbuild==$ZIGBUILD_VERSION" 2>&1); then
        if grep -q externally-managed-environment <<<"$log"; then
            die "$PYTHON is managed by the system and refuses pip installs; fix: python3 -m venv ~/.venvs/jetson && PYTHON=~/.venvs/jetson/bin/python3 $0"
        fi
        die "pip could not install ziglang and cargo-zigbuild ($(tail -n 1 <<<"$log")); fix: $pip_fix"
    fi
fi
"$PYTHON" -m ziglang version >/dev/null 2>&1 || die "'$PYTHON -m ziglang version' fails; fix: $PYTHON -m pip install --force-reinstall ziglang==$ZIGLANG_VERSION"
# cargo-zigbuild runs zig as `python3 -m ziglang` with the python this names.
export CARGO_ZIGBUILD_PYTHON_PATH="$PYTHON"
# pip puts cargo-zigbuild in the python's scripts folder (or the user's), which may not be on PATH.
scripts_dir=$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
user_bin="$("$PYTHON" -m site --user-base 2>/dev/null || true)/bin"
export PATH="$PATH:$scripts_dir:$user_bin"
command -v cargo-zigbuild >/dev/null || die "cargo-zigbuild is installed for $PYTHON but not in PATH, $scripts_dir or $user_bin; fix: add the folder holding cargo-zigbuild to PATH"

# 3. Build, where cargo puts it (CARGO_TARGET_DIR, build.target-dir or target/).
target_dir=$(cargo metadata --format-version 1 --no-deps \
    | "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])') \
    || die "cargo metadata failed; fix: run this script from a checkout of edgebench"
bin="$target_dir/$TARGET/release/edgebench"
note "building $bin (glibc $GLIBC, cargo-zigbuild $ZIGBUILD_VERSION, zig $ZIGLANG_VERSION)"
cargo zigbuild --release --target "$TARGET.$GLIBC" -p edgebench ${extra[@]+"${extra[@]}"} >&2 \
    || die "cargo zigbuild failed (its error is above); fix: that error, then run this script again"

# 4. Check it, then say where it is.
verify "$bin"
echo "$bin"
