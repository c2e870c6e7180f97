#!/usr/bin/env bash
# Measures ReportIncident against its baseline in one session, interleaved so both see the
# same machine: the echo server (same bootstrap, same executor hop, no work), and a bare
# EVALSHA round trip (redis-benchmark -c 1). Redis runs with AOF on, appendfsync everysec.
#
#   tools/loadgen/bench_incidents.sh [BUILD_DIR] [DURATION] [ROUNDS]
#
# Prints a markdown table of medians over ROUNDS (default 3) and every raw run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${1:-$ROOT/build}"
DURATION="${2:-10s}"
ROUNDS="${3:-3}"
WORKERS="${BENCH_WORKERS:-16}"
# shellcheck source=tools/loadgen/bench_common.sh
source "$ROOT/tools/loadgen/bench_common.sh"

start_redis

"$BUILD/tools/devbroker/gridloop-devbroker" --bootstrap-file "$WORK/bootstrap" >"$WORK/broker.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 200); do [[ -s "$WORK/bootstrap" ]] && break; sleep 0.05; done

INC_PORT=$(free_port)
GRIDLOOP_LISTEN="127.0.0.1:$INC_PORT" GRIDLOOP_REDIS="127.0.0.1:$REDIS_PORT" \
GRIDLOOP_KAFKA_BROKERS="$(cat "$WORK/bootstrap")" GRIDLOOP_WORKERS="$WORKERS" \
GRIDLOOP_LOG_LEVEL=warn \
  "$BUILD/services/incidents/gridloop-incidents" >"$WORK/incidents.log" 2>&1 &
PIDS+=($!)
wait_port "$INC_PORT"

ECHO_PORT=$(free_port)
GRIDLOOP_LOG_LEVEL=warn "$BUILD/tools/loadgen/gridloop-echo-server" --listen="127.0.0.1:$ECHO_PORT" \
  --threads="$WORKERS" >"$WORK/echo.log" 2>&1 &
PIDS+=($!)
wait_port "$ECHO_PORT"

run() {  # mode port concurrency -> one JSON line
  "$BUILD/tools/loadgen/gridloop-loadgen" --target="127.0.0.1:$2" --mode="$1" \
    --concurrency="$3" --duration="$DURATION" --warmup=2s --json | tail -1
}

field() { sed -E "s/.*\"$1\":([0-9.]+).*/\1/"; }

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "# raw runs (mode concurrency calls/s p50 p99 p999 errors)"
declare -A TPUT P50 P99 P999
for c in 1 32; do
  for r in $(seq 1 "$ROUNDS"); do
    for mode in echo report; do
      port=$ECHO_PORT; [[ $mode == report ]] && port=$INC_PORT
      line=$(run "$mode" "$port" "$c")
      t=$(echo "$line" | field calls_per_s); p50=$(echo "$line" | field p50)
      p99=$(echo "$line" | field p99); p999=$(echo "$line" | field p999)
      err=$(echo "$line" | field errors)
      echo "$mode $c $t $p50 $p99 $p999 $err"
      TPUT[$mode.$c]+="$t "; P50[$mode.$c]+="$p50 "; P99[$mode.$c]+="$p99 "; P999[$mode.$c]+="$p999 "
    done
  done
done

SHA=$(redis-cli -p "$REDIS_PORT" SCRIPT LOAD "return 1")
EVAL_P50=$(redis-benchmark -p "$REDIS_PORT" -c 1 -n 50000 -q EVALSHA "$SHA" 0 2>/dev/null \
  | tr '\r' '\n' | grep -o 'p50=[0-9.]*' | tail -1 | cut -d= -f2)

m() { tr ' ' '\n' | grep -v '^$' | median; }
echo
echo "| run | concurrency | calls/s | p50 ms | p99 ms | p99.9 ms |"
echo "|---|---|---|---|---|---|"
for c in 1 32; do
  for mode in echo report; do
    echo "| $mode | $c | $(echo "${TPUT[$mode.$c]}" | m) | $(echo "${P50[$mode.$c]}" | m) | $(echo "${P99[$mode.$c]}" | m) | $(echo "${P999[$mode.$c]}" | m) |"
  done
done
echo
echo "bare EVALSHA round trip (redis-benchmark -c 1) p50: ${EVAL_P50} ms"
for c in 1 32; do
  e=$(echo "${TPUT[echo.$c]}" | m); r=$(echo "${TPUT[report.$c]}" | m)
  echo "concurrency $c: report/echo throughput = $(awk -v r="$r" -v e="$e" 'BEGIN{printf "%.0f%%", 100*r/e}')"
done
e50=$(echo "${P50[echo.1]}" | m); r50=$(echo "${P50[report.1]}" | m)
echo "one in flight: report p50 - (echo p50 + EVALSHA p50) = $(awk -v r="$r50" -v e="$e50" -v x="$EVAL_P50" 'BEGIN{printf "%.3f ms", r-(e+x)}')"
