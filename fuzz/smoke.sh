#!/usr/bin/env bash
# CI smoke run of every fuzz target: build the instrumented extension (fuzz/build.sh),
# then run each target for a few seconds from a sample of its seeds, in a scratch
# corpus, with a fixed libFuzzer seed. Exits non-zero on any finding (a failed property,
# an unexpected exception, a Rust panic, a crash, a timeout).
#
#   fuzz/smoke.sh                 build, then SMOKE_SECONDS (default 3) per target
#   SMOKE_SECONDS=10 fuzz/smoke.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
seconds="${SMOKE_SECONDS:-3}"
seeds="${SMOKE_SEEDS:-40}"

"$here/build.sh"
python="$here/.venv/bin/python"
status=0
failed=()
for target in $("$python" "$here/run.py" --list); do
    log="$(mktemp)"
    start=$SECONDS
    if "$python" "$here/run.py" "$target" --smoke "$seeds" -max_total_time="$seconds" \
        -timeout=10 -artifact_prefix="$(dirname "$log")/lumora-fuzz-$target-" >"$log" 2>&1; then
        execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
        cov="$(grep -oE 'cov: [0-9]+' "$log" | tail -1)"
        echo "fuzz smoke: $target ok (${execs:-?} executions, ${cov:-no cov}, $((SECONDS - start))s)"
        grep '^NOTE: open finding' "$log" | sort -u || true
    else
        status=1
        failed+=("$target")
        echo "fuzz smoke: $target FAILED; its log:" >&2
        grep -v -E '^INFO: Instrumenting|^#[0-9]+ +(NEW|REDUCE|pulse)' "$log" | tail -60 >&2
    fi
    rm -f "$log"
done
if [[ $status -ne 0 ]]; then
    echo "fuzz smoke: findings in: ${failed[*]}" >&2
fi
exit $status
