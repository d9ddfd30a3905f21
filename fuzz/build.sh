#!/usr/bin/env bash
# Build the fuzzing environment: fuzz/.venv with atheris, and lumora_fast installed from a
# wheel whose Rust extension carries SanitizerCoverage instrumentation (inline 8-bit
# counters, PC table, compare tracing), built in fuzz/target. Nothing outside fuzz/ is
# written: the main .venv, target/ and python/lumora_fast/_core*.so are left alone
# (a wheel install, not `maturin develop`, which would drop the .so into python/).
#
#   fuzz/build.sh            instrumented build (what the fuzz targets are meant for)
#   fuzz/build.sh --plain    the same build without instrumentation, in fuzz/.venv-plain
#                            (to measure what the Rust instrumentation adds)
#
# Re-running is cheap: cargo keeps fuzz/target, pip keeps its cache.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
cd "$root"

mode=instrumented
venv="$here/.venv"
if [[ "${1:-}" == "--plain" ]]; then mode=plain venv="$here/.venv-plain"; fi

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_PROGRESS_BAR=off
if [[ ! -x "$venv/bin/python" ]]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q -r "$here/requirements.txt"

# The host triple given explicitly makes cargo apply RUSTFLAGS to the extension and its
# dependencies only, not to build scripts and proc-macros (which run on the host and
# would fail to link against the sancov callbacks).
triple="$(rustc -vV | sed -n 's/^host: //p')"
if [[ "$mode" == instrumented ]]; then
    export RUSTFLAGS="-Cpasses=sancov-module \
-Cllvm-args=-sanitizer-coverage-level=3 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
-Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares"
else
    export RUSTFLAGS=""
fi
# Release codegen, without the release profile's fat LTO and single codegen unit (minutes
# of build time that fuzzing does not need), with overflow checks and debug assertions
# on (an overflow or a broken invariant becomes a PanicException: a finding), and with
# symbols kept so a crash's stack names Rust functions.
export CARGO_PROFILE_RELEASE_LTO=off
export CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
export CARGO_PROFILE_RELEASE_INCREMENTAL=true
export CARGO_PROFILE_RELEASE_OVERFLOW_CHECKS=true
export CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS=true
export CARGO_PROFILE_RELEASE_STRIP=none

target_dir="$here/target/$mode"
wheels="$target_dir/wheels"
rm -rf "$wheels"
"$venv/bin/maturin" build --release --locked --target "$triple" \
    --target-dir "$target_dir" --out "$wheels" --interpreter "$venv/bin/python" --quiet
"$venv/bin/pip" install -q --force-reinstall --no-deps "$wheels"/lumora_fast-*.whl
# Its dependencies, and xxhash for the pure backend's xxh3 (the oracle of the checksums).
"$venv/bin/pip" install -q "$(ls "$wheels"/lumora_fast-*.whl)" xxhash

# The instrumented .so calls the sancov callbacks; only a libFuzzer loaded first defines
# them (fuzz/lumora_fuzz.py preloads atheris's ubsan_with_fuzzer.so the same way).
preload="$("$venv/bin/python" -c 'import atheris; print(atheris.path())')/ubsan_with_fuzzer.so"
so="$(LD_PRELOAD="$preload" "$venv/bin/python" -c 'import lumora_fast._core as c; print(c.__file__)')"
case "$so" in
    "$venv"/*) ;;
    *) echo "error: lumora_fast._core was imported from $so, not from $venv" >&2; exit 1 ;;
esac
echo "$mode" >"$venv/lumora_fast_build"
counters="$(nm "$so" 2>/dev/null | grep -c '__sancov_gen_' || true)"
echo "built $mode lumora_fast._core: $so (sancov symbols: $counters)"
