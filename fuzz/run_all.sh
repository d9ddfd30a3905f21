#!/usr/bin/env bash
# Run fuzz targets one after another for SECONDS each and print a results table.
#
#   fuzz/run_all.sh SECONDS [TARGET...] [-- extra libFuzzer flags]
#
# Needs fuzz/build.sh to have run. Each run reads fuzz/seeds/TARGET, grows
# fuzz/corpus/TARGET, writes crashes/timeouts to fuzz/artifacts/TARGET/ and its log to
# fuzz/logs/TARGET.log. Exits non-zero if any target found anything (a failed property,
# an unexpected exception, a crash, a timeout, running out of memory).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
seconds="${1:?usage: run_all.sh SECONDS [TARGET...] [-- libFuzzer flags]}"
shift
targets=()
while [[ $# -gt 0 && "$1" != "--" ]]; do targets+=("$1"); shift; done
[[ "${1:-}" == "--" ]] && shift
flags=("$@")
python="${LUMORA_FUZZ_PYTHON:-$here/.venv/bin/python}"
if [[ ${#targets[@]} -eq 0 ]]; then
    mapfile -t targets < <("$python" "$here/run.py" --list)
fi

mkdir -p "$here/logs"
status=0
rows=()
for target in "${targets[@]}"; do
    log="$here/logs/$target.log"
    before="$(ls "$here/artifacts/$target" 2>/dev/null | wc -l)"
    nice -n 10 "$python" "$here/run.py" "$target" -max_total_time="$seconds" "${flags[@]}" >"$log" 2>&1
    rc=$?
    after="$(ls "$here/artifacts/$target" 2>/dev/null | wc -l)"
    crashes="$(grep -cE 'Test unit written to .*/(crash|leak)-' "$log")"
    hangs="$(grep -cE 'Test unit written to .*/(timeout|oom|slow-unit)-' "$log")"
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
    rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
    corpus="$(grep -oE 'corp: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)"
    cov="$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)"
    rows+=("$(printf '%-18s %7s %7s %11s %7s %7s %5s %4s' "$target" "${corpus:-?}" \
        "${cov:-?}" "${execs:-?}" "${rate:-?}" "$crashes" "$hangs" "$rc")")
    if [[ $rc -ne 0 || $crashes -ne 0 || $hangs -ne 0 || $after -ne $before ]]; then
        status=1
        echo "FINDING in $target (exit $rc): see $log and $here/artifacts/$target/" >&2
        grep -m1 -A12 -E '^(Finding|[A-Za-z]*Error|[A-Za-z]*Exception)|ERROR: libFuzzer' "$log" >&2
    fi
done
printf '%-18s %7s %7s %11s %7s %7s %5s %4s\n' target corpus cov execs exec/s crashes hangs exit
printf '%s\n' "${rows[@]}"
exit $status
