#!/usr/bin/env bash
# Measures the bulk import of residents (gridctl import → ResidentService.ImportBatch) against
# a baseline in the same session: redis-benchmark writing one value of a resident record's
# size per resident (SET, 8 connections), the floor of any import that stores each resident
# once. Redis runs with AOF on, appendfsync everysec; a fresh Redis and residents service.
#
#   tools/loadgen/bench_import.sh [BUILD_DIR] [RESIDENTS]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${1:-$ROOT/build}"
RESIDENTS="${2:-1000000}"
# shellcheck source=tools/loadgen/bench_common.sh
source "$ROOT/tools/loadgen/bench_common.sh"

"$BUILD/tools/seedgen/gridloop-seedgen" --out="$WORK/seed" --residents="$RESIDENTS" >&2

start_redis

RES_PORT=$(free_port)
GRIDLOOP_LISTEN="127.0.0.1:$RES_PORT" GRIDLOOP_REDIS="127.0.0.1:$REDIS_PORT" \
GRIDLOOP_PII_KEYS="b1:$(head -c 32 /dev/urandom | base64)" \
GRIDLOOP_PII_INDEX_KEY="$(head -c 32 /dev/urandom | base64)" GRIDLOOP_LOG_LEVEL=warn \
  "$BUILD/services/residents/gridloop-residents" >"$WORK/residents.log" 2>&1 &
PIDS+=($!)
wait_port "$RES_PORT"

# Record size as stored: a resident's sealed record is about 400 bytes.
BASE=$(redis-benchmark -p "$REDIS_PORT" -t set -n 200000 -c 8 -d 400 -r 100000000 -q 2>/dev/null \
  | tr '\r' '\n' | grep -o 'SET: [0-9.]*' | tail -1 | cut -d' ' -f2)
redis-cli -p "$REDIS_PORT" FLUSHALL >/dev/null

start=$(date +%s.%N)
"$BUILD/tools/gridctl/gridctl" import --dir="$WORK/seed" --scope=3301 \
  --residents_addr="127.0.0.1:$RES_PORT" --rejects="$WORK/rejects.txt" >"$WORK/summary.txt" 2>"$WORK/progress.txt"
end=$(date +%s.%N)
cat "$WORK/summary.txt"
rows=$(awk '/^total/ {print $2+$3+$4+$5}' "$WORK/summary.txt")
res_rows=$(awk '/residents.csv/ {print $2+$3+$4+$5}' "$WORK/summary.txt")
secs=$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.1f", b-a}')
rate=$(awk -v r="$rows" -v s="$secs" 'BEGIN{printf "%.0f", r/s}')
echo
echo "residents: $res_rows; all rows: $rows in ${secs}s = $rate rows/s"
echo "baseline: redis-benchmark SET -d 400 -c 8: ${BASE} ops/s"
awk -v r="$rate" -v b="$BASE" 'BEGIN{printf "import / bare SET = %.1f%%\n", 100*r/b}'
echo "redis memory: $(redis-cli -p "$REDIS_PORT" INFO memory | grep used_memory_human | tr -d '\r')"
