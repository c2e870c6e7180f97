#!/usr/bin/env bash
# Measures how many incident events assessment folds per second, live (from the topic, into
# Redis counters) and in a rebuild (replaying the topic into a fresh generation), against a
# bare consumer reading the same records in the same run, and checks that the rebuilt
# figures equal the live ones key for key (gridloop-assessment-bench; Redis with AOF on,
# appendfsync everysec; librdkafka's mock cluster). Builds nothing: build the target
# gridloop-assessment-bench in BUILD_DIR first (a release tree:
# cmake -DCMAKE_BUILD_TYPE=Release -DGRIDLOOP_SANITIZE=OFF).
#
#   tools/loadgen/bench_assessment.sh BUILD_DIR [ROUNDS]
#
# Prints every round and the medians over ROUNDS (default 3) rounds, each a fresh setup
# with the same events. Further flags for the bench may follow in BENCH_FLAGS, e.g.
# BENCH_FLAGS="--partitions=8 --fold_latency=false".
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
if [[ $# -lt 1 ]]; then
  echo "usage: $0 BUILD_DIR [ROUNDS]" >&2
  exit 2
fi
BUILD="$1"
ROUNDS="${2:-3}"
BIN="$BUILD/tools/loadgen/gridloop-assessment-bench"
# shellcheck source=tools/loadgen/bench_common.sh
source "$ROOT/tools/loadgen/bench_common.sh"

if [[ ! -x "$BIN" ]]; then
  echo "$BIN not found: cmake --build $BUILD --target gridloop-assessment-bench" >&2
  exit 2
fi

# shellcheck disable=SC2086  # BENCH_FLAGS is a list of flags
if ! "$BIN" --rounds="$ROUNDS" ${BENCH_FLAGS:-} >"$WORK/bench.out" 2>"$WORK/bench.err"; then
  cat "$WORK/bench.out" "$WORK/bench.err" >&2
  echo "the bench failed" >&2
  exit 1
fi

field() { sed -E "s/.*\"$1\":([^,}]+).*/\1/"; }
pct() { awk -v q="$1" 'BEGIN{printf "%.2f%%", 100*q}'; }
num() { awk -v x="$1" 'BEGIN{printf "%.0f", x}'; }
fold_latency() {
  if [[ "$(echo "$1" | field fold_direct_events_per_s)" == 0.0 ]]; then
    echo "FoldIncidentEvent not timed"
  else
    echo "FoldIncidentEvent one call at a time p50 $(echo "$1" | field fold_p50_ms) ms," \
      "p99 $(echo "$1" | field fold_p99_ms) ms"
  fi
}
yes_no() { if [[ "$1" == true ]]; then echo yes; else echo no; fi; }

echo "# the bench's output, less its JSON lines"
grep -v '^{' "$WORK/bench.out"
echo
echo "| round | events | incidents | bare consumer events/s | live fold events/s | live / bare | rebuild events/s | rebuild / bare | rebuilt == live |"
echo "|---|---|---|---|---|---|---|---|---|"
row() {
  local label="$1" line="$2"
  echo "| $label | $(echo "$line" | field events) | $(echo "$line" | field incidents)" \
    "| $(num "$(echo "$line" | field bare_events_per_s)")" \
    "| $(num "$(echo "$line" | field live_events_per_s)")" \
    "| $(pct "$(echo "$line" | field live_ratio)")" \
    "| $(num "$(echo "$line" | field rebuild_events_per_s)")" \
    "| $(pct "$(echo "$line" | field rebuild_ratio)")" \
    "| $(yes_no "$(echo "$line" | field rebuilt_equals_live)") |"
}
while IFS= read -r line; do
  row "$(echo "$line" | field round)" "$line"
done < <(grep '^{"round":[1-9]' "$WORK/bench.out")
last=$(grep '^{"round":' "$WORK/bench.out" | tail -1)
if [[ "$(echo "$last" | field median)" == true ]]; then
  row "**median**" "$last"
fi
echo
echo "($( [[ "$(echo "$last" | field median)" == true ]] && echo medians || echo round 1 )):" \
  "live fold $(num "$(echo "$last" | field live_events_per_s_from_first)") events/s from its" \
  "first event on; $(fold_latency "$last");" \
  "per event $(echo "$last" | field rebuild_hincrby_per_event) HINCRBY and" \
  "$(echo "$last" | field rebuild_zadd_per_event) ZADD in the rebuild" \
  "($(echo "$last" | field live_hincrby_per_event) HINCRBY live, with the score marks)," \
  "$(echo "$last" | field rebuild_script_us_per_event) us inside EVALSHA;" \
  "Redis CPU $(pct "$(echo "$last" | field live_redis_cpu_share)") and the bench process" \
  "$(pct "$(echo "$last" | field live_bench_cpu_share)") of the live fold's wall time," \
  "$(pct "$(echo "$last" | field rebuild_redis_cpu_share)") and" \
  "$(pct "$(echo "$last" | field rebuild_bench_cpu_share)") of the rebuild's"
