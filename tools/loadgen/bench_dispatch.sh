#!/usr/bin/env bash
# Measures how many incident events dispatch handles per second (consume -> GetResponsible
# -> AssignIncident -> dispatch commit in Redis, until every incident is ASSIGNED) against a
# bare consumer reading the same records in the same run (gridloop-dispatch-bench; Redis
# with AOF on, appendfsync everysec; librdkafka's mock cluster). Builds the benchmark in
# BUILD_DIR first (a release tree: cmake -DCMAKE_BUILD_TYPE=Release -DGRIDLOOP_SANITIZE=OFF).
#
#   tools/loadgen/bench_dispatch.sh [BUILD_DIR] [INCIDENTS] [ROUNDS]
#
# Prints every run and the medians over ROUNDS (default 3) runs, each a fresh setup.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${1:-$ROOT/build}"
INCIDENTS="${2:-20000}"
ROUNDS="${3:-3}"
# shellcheck source=tools/loadgen/bench_common.sh
source "$ROOT/tools/loadgen/bench_common.sh"

cmake --build "$BUILD" --target gridloop-dispatch-bench -j"${BENCH_BUILD_JOBS:-1}" >&2

field() { sed -E "s/.*\"$1\":([0-9.]+).*/\1/"; }
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
pct() { awk -v q="$1" 'BEGIN{printf "%.2f%%", 100*q}'; }

echo "# raw runs: dispatch events/s, bare consumer events/s, dispatch/bare;" \
  "the same from each one's first record on; reported-event handler p50, p99 ms"
DISPATCH="" BARE="" RATIO="" DSTEADY="" BSTEADY="" P50="" P99=""
for r in $(seq 1 "$ROUNDS"); do
  if ! "$BUILD/tools/loadgen/gridloop-dispatch-bench" --incidents="$INCIDENTS" \
      >"$WORK/run$r.out" 2>"$WORK/run$r.err"; then
    cat "$WORK/run$r.out" "$WORK/run$r.err" >&2
    echo "run $r failed" >&2
    exit 1
  fi
  line=$(tail -1 "$WORK/run$r.out")
  d=$(echo "$line" | field dispatch_events_per_s); b=$(echo "$line" | field bare_events_per_s)
  q=$(echo "$line" | field ratio)
  ds=$(echo "$line" | field dispatch_events_per_s_from_first)
  bs=$(echo "$line" | field bare_events_per_s_from_first)
  p50=$(echo "$line" | field reported_p50_ms); p99=$(echo "$line" | field reported_p99_ms)
  echo "run $r: $d $b $(pct "$q") | $ds $bs $(pct "$(awk -v d="$ds" -v b="$bs" 'BEGIN{print d/b}')") | $p50 $p99"
  DISPATCH+="$d "; BARE+="$b "; RATIO+="$q "; DSTEADY+="$ds "; BSTEADY+="$bs "
  P50+="$p50 "; P99+="$p99 "
done

m() { median <<<"$1"; }
echo
echo "| incidents | dispatch events/s | bare consumer events/s | dispatch / bare | reported p50 ms | reported p99 ms |"
echo "|---|---|---|---|---|---|"
echo "| $INCIDENTS | $(m "$DISPATCH") | $(m "$BARE") | $(pct "$(m "$RATIO")") | $(m "$P50") | $(m "$P99") |"
echo
echo "from each consumer's first record on (medians): dispatch $(m "$DSTEADY") events/s," \
  "bare consumer $(m "$BSTEADY") events/s"
