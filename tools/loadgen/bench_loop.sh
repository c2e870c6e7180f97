#!/usr/bin/env bash
# Measures how fast the loop closes — ReportIncident until the incident's `assigned` event
# is read — against the floor of one bare Kafka hop, in one session at one rate:
#   1. Redis (AOF on, appendfsync everysec), the dev broker, residents with the seed street
#      imported, incidents and dispatch (and assessment with BENCH_ASSESSMENT=1), each a
#      process of its own on free loopback ports;
#   2. one `gridctl demo --dispatched` incident, to prove dispatch assigns at that place;
#   3. `gridloop-loadgen --mode=hop`: records of an event's size produced and consumed at
#      RATE through the services' own Kafka clients and settings;
#   4. `gridloop-loadgen --mode=loop` at the same RATE, for the same time.
# Prints both results, the difference and ratio of the p99s, where the loop's time goes
# (from the events' own timestamps), and for the loop run the services' RPC latencies,
# Redis's commands, the consumer and outbox lag gauges, and the CPU each process and the
# whole machine used. Needs a build with gridloop-loadgen,
# gridloop-devbroker, gridloop-residents, gridloop-incidents, gridloop-dispatch,
# gridloop-seedgen and gridctl (and gridloop-assessment if asked for).
#
#   tools/loadgen/bench_loop.sh [BUILD_DIR] [RATE] [SECONDS]
#
# Environment: BENCH_PARTITIONS (64: the dev broker finds a fetched offset by walking the
# partition's message sets from the oldest, so at 1,000 reports/s for 30 s, 16 partitions
# made its own walk the largest cost on the path; for runs of minutes 16 is better, since
# the walk stops growing once a partition holds the mock's 5 MiB), BENCH_DISPATCH_REPLICAS
# (1; more split the incident topic's partitions between them), BENCH_GRACE (30s), BENCH_LINGER (the producers'
# linger.ms, for both relays and the hop alike; the services' default when unset),
# BENCH_FETCH_WAIT (the consumers' fetch.wait.max.ms, e.g. 1ms, for dispatch, the hop and
# the loop's reader alike; the services' default when unset),
# BENCH_INCIDENTS_ENV / BENCH_DISPATCH_ENV (extra VAR=value words for those services),
# BENCH_ASSESSMENT (0), BENCH_KEEP (a directory to copy the run's logs and counters to),
# BENCH_AOF_REWRITE (off; `auto` lets Redis compact its AOF during the run, see
# bench_common.sh).
# Exit status: that of the loop run (0: nothing failed and every report was assigned).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${1:-$ROOT/build}"
RATE="${2:-1000}"
RUN_SECONDS="${3:-60}"
PARTITIONS="${BENCH_PARTITIONS:-64}"
REPLICAS="${BENCH_DISPATCH_REPLICAS:-1}"
GRACE="${BENCH_GRACE:-30s}"
LINGER="${BENCH_LINGER:-}"
FETCH_WAIT="${BENCH_FETCH_WAIT:-}"
FETCH_WAIT_MS=""
if [[ -n "$FETCH_WAIT" ]]; then
  [[ "$FETCH_WAIT" =~ ^([0-9]+)ms$ ]] || { echo "BENCH_FETCH_WAIT: milliseconds, e.g. 1ms" >&2; exit 2; }
  FETCH_WAIT_MS="${BASH_REMATCH[1]}"
fi
read -r -a INCIDENTS_ENV <<<"${BENCH_INCIDENTS_ENV:-}"
read -r -a DISPATCH_ENV <<<"${BENCH_DISPATCH_ENV:-}"
# Where `gridctl demo --by_location` reports: a grid of the seed street with a grid worker
# on duty, found by the residents service.
LOCATION="30.2675,120.0828"
TOPICS="gridloop.incident.events.v1,gridloop.incident.events.v1.dlq,gridloop.dispatch.events.v1"
TOPICS+=",gridloop.dispatch.events.v1.dlq,gridloop.assessment.scores.v1,gridloop.loadgen.hop.v1"
# shellcheck source=tools/loadgen/bench_common.sh
source "$ROOT/tools/loadgen/bench_common.sh"

say() { echo "# $*" >&2; }
declare -A PID_OF
# Services before the infrastructure they flush to (as `tools/dev stop` does): a consumer
# stopping after its broker is gone can wait a long time for its last commit. Each gets
# 30 s to drain, then is killed.
SERVICE_PIDS=()
stop_services() {
  local pid
  for pid in "${SERVICE_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${SERVICE_PIDS[@]}"; do
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  SERVICE_PIDS=()
}
# BENCH_KEEP=DIR keeps the logs, results and counters of the run there.
keep() { if [[ -n "${BENCH_KEEP:-}" ]]; then mkdir -p "$BENCH_KEEP" && cp -r "$WORK"/. "$BENCH_KEEP"/; fi; }
trap 'stop_services; keep; cleanup' EXIT

start_redis
PID_OF[redis]=${PIDS[-1]}

"$BUILD/tools/devbroker/gridloop-devbroker" --partitions="$PARTITIONS" --topics="$TOPICS" \
  --bootstrap-file="$WORK/bootstrap" >"$WORK/broker.log" 2>&1 &
PIDS+=($!); PID_OF[broker]=$!
for _ in $(seq 1 200); do [[ -s "$WORK/bootstrap" ]] && break; sleep 0.05; done
[[ -s "$WORK/bootstrap" ]] || { cat "$WORK/broker.log" >&2; echo "the broker did not start" >&2; exit 1; }
BROKERS=$(cat "$WORK/bootstrap")

# Every service exports its RPC latencies (and lag gauges) for the account below.
declare -A METRICS_OF
RES_PORT=$(free_port)
METRICS_OF[residents]=$(free_port)
GRIDLOOP_METRICS_LISTEN="127.0.0.1:${METRICS_OF[residents]}" \
GRIDLOOP_PII_KEYS="bench1:$(head -c 32 /dev/urandom | base64)" \
GRIDLOOP_PII_INDEX_KEY="$(head -c 32 /dev/urandom | base64)" \
GRIDLOOP_LISTEN="127.0.0.1:$RES_PORT" GRIDLOOP_REDIS="127.0.0.1:$REDIS_PORT" \
GRIDLOOP_LOG_LEVEL=warn \
  "$BUILD/services/residents/gridloop-residents" >"$WORK/residents.log" 2>&1 &
PIDS+=($!); PID_OF[residents]=$!; SERVICE_PIDS=("$!" "${SERVICE_PIDS[@]}")
wait_port "$RES_PORT"
say "importing the seed street"
"$BUILD/tools/seedgen/gridloop-seedgen" --out="$WORK/seed" >/dev/null 2>&1
"$BUILD/tools/gridctl/gridctl" import --dir="$WORK/seed" --scope=3301 \
  --residents_addr="127.0.0.1:$RES_PORT" --rejects="$WORK/rejects.txt" >"$WORK/import.log" 2>&1 ||
  { cat "$WORK/import.log" >&2; echo "the seed import failed" >&2; exit 1; }

INC_PORT=$(free_port)
METRICS_OF[incidents]=$(free_port)
env GRIDLOOP_LISTEN="127.0.0.1:$INC_PORT" GRIDLOOP_REDIS="127.0.0.1:$REDIS_PORT" \
  GRIDLOOP_METRICS_LISTEN="127.0.0.1:${METRICS_OF[incidents]}" \
  GRIDLOOP_KAFKA_BROKERS="$BROKERS" GRIDLOOP_RESIDENTS_ADDR="127.0.0.1:$RES_PORT" \
  GRIDLOOP_LOG_LEVEL=warn ${LINGER:+GRIDLOOP_KAFKA_LINGER="$LINGER"} "${INCIDENTS_ENV[@]}" \
  "$BUILD/services/incidents/gridloop-incidents" >"$WORK/incidents.log" 2>&1 &
PIDS+=($!); PID_OF[incidents]=$!; SERVICE_PIDS=("$!" "${SERVICE_PIDS[@]}")
wait_port "$INC_PORT"

# Several replicas split the partitions between them up front (GRIDLOOP_CONSUMER_PARTITIONS)
# rather than through the consumer group, whose rebalance per joining member would still be
# going on when the load starts.
partitions_of() {  # replica number (1-based) -> its partitions, round robin
  local p out=()
  for ((p = $1 - 1; p < PARTITIONS; p += REPLICAS)); do out+=("$p"); done
  local IFS=,; echo "${out[*]}"
}
for r in $(seq 1 "$REPLICAS"); do
  assigned=()
  [[ $REPLICAS -gt 1 ]] && assigned=(GRIDLOOP_CONSUMER_PARTITIONS="$(partitions_of "$r")")
  port=$(free_port)
  METRICS_OF[dispatch$r]=$(free_port)
  env GRIDLOOP_LISTEN="127.0.0.1:$port" GRIDLOOP_REDIS="127.0.0.1:$REDIS_PORT" \
    GRIDLOOP_METRICS_LISTEN="127.0.0.1:${METRICS_OF[dispatch$r]}" \
    GRIDLOOP_KAFKA_BROKERS="$BROKERS" GRIDLOOP_INCIDENTS_ADDR="127.0.0.1:$INC_PORT" \
    GRIDLOOP_RESIDENTS_ADDR="127.0.0.1:$RES_PORT" GRIDLOOP_LOG_LEVEL=warn "${assigned[@]}" \
    ${LINGER:+GRIDLOOP_KAFKA_LINGER="$LINGER"} ${FETCH_WAIT:+GRIDLOOP_KAFKA_FETCH_WAIT="$FETCH_WAIT"} \
    "${DISPATCH_ENV[@]}" \
    "$BUILD/services/dispatch/gridloop-dispatch" >"$WORK/dispatch$r.log" 2>&1 &
  PIDS+=($!); PID_OF[dispatch$r]=$!; SERVICE_PIDS=("$!" "${SERVICE_PIDS[@]}")
  wait_port "$port"
done

if [[ "${BENCH_ASSESSMENT:-0}" == 1 ]]; then
  port=$(free_port)
  GRIDLOOP_LISTEN="127.0.0.1:$port" GRIDLOOP_REDIS="127.0.0.1:$REDIS_PORT" \
  GRIDLOOP_KAFKA_BROKERS="$BROKERS" GRIDLOOP_RESIDENTS_ADDR="127.0.0.1:$RES_PORT" \
  GRIDLOOP_LOG_LEVEL=warn \
    "$BUILD/services/assessment/gridloop-assessment" >"$WORK/assessment.log" 2>&1 &
  PIDS+=($!); PID_OF[assessment]=$!; SERVICE_PIDS=("$!" "${SERVICE_PIDS[@]}")
  wait_port "$port"
fi

say "one demo incident, assigned by dispatch at $LOCATION"
GRIDLOOP_INCIDENTS_ADDR="127.0.0.1:$INC_PORT" GRIDLOOP_KAFKA_BROKERS="$BROKERS" \
  "$BUILD/tools/gridctl/gridctl" demo --by_location="$LOCATION" --dispatched=true \
  >"$WORK/demo.log" 2>&1 || { cat "$WORK/demo.log" >&2; echo "the demo incident failed" >&2; exit 1; }
grep -m1 'dispatch service' "$WORK/demo.log" >&2 || true

LOADGEN="$BUILD/tools/loadgen/gridloop-loadgen"
COMMON=(--kafka_brokers="$BROKERS" --partitions="$PARTITIONS" --rate="$RATE"
        --duration="${RUN_SECONDS}s" --warmup=2s --grace="$GRACE" --json
        ${FETCH_WAIT_MS:+--fetch_wait_ms="$FETCH_WAIT_MS"})

say "hop: $RATE records/s for ${RUN_SECONDS}s"
hop_rc=0
"$LOADGEN" --mode=hop "${COMMON[@]}" ${LINGER:+--kafka_linger="$LINGER"} \
  >"$WORK/hop.json" 2>"$WORK/hop.err" || hop_rc=$?
if [[ ! -s "$WORK/hop.json" ]]; then cat "$WORK/hop.err" >&2; echo "the hop run failed" >&2; exit 1; fi

# Around the loop run: each process's CPU, the services' RPC counters, Redis's command
# counters; during it, the lag gauges once a second.
snapshot() {  # $1 file prefix
  for name in "${!METRICS_OF[@]}"; do
    curl -s "http://127.0.0.1:${METRICS_OF[$name]}/metrics" | sed "s/^/$name /" >>"$1.metrics"
  done
  redis-cli -p "$REDIS_PORT" INFO commandstats | tr -d '\r' >"$1.redis"
}
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
declare -A BEFORE
for name in "${!PID_OF[@]}"; do BEFORE[$name]=$(ticks "${PID_OF[$name]}"); done
# `times` in this shell (not a subshell): the CPU of the children it has waited for, which
# from here on is only the load generator.
children_cpu() { awk 'END { split($1, u, /[ms]/); split($2, s, /[ms]/); print u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$1"; }
times >"$WORK/times.before"
# The whole machine's busy time too: the host is shared, and what the stack did not use,
# something else did.
machine_busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
machine_before=$(machine_busy)
snapshot "$WORK/before"
(
  while true; do
    for name in "${!METRICS_OF[@]}"; do
      curl -s "http://127.0.0.1:${METRICS_OF[$name]}/metrics" |
        grep -E '^gridloop_(consumer|outbox)_lag' | sed "s/^/$name /"
    done
    sleep 1
  done
) >"$WORK/lag.samples" 2>/dev/null &
SAMPLER=$!
PIDS+=("$SAMPLER")
t0=$(date +%s.%N)

say "loop: $RATE reports/s for ${RUN_SECONDS}s to $LOCATION"
loop_rc=0
"$LOADGEN" --mode=loop --target="127.0.0.1:$INC_PORT" --location="$LOCATION" "${COMMON[@]}" \
  >"$WORK/loop.json" 2>"$WORK/loop.err" || loop_rc=$?
if [[ ! -s "$WORK/loop.json" ]]; then cat "$WORK/loop.err" >&2; echo "the loop run failed" >&2; exit 1; fi

t1=$(date +%s.%N)
times >"$WORK/times.after"
machine_after=$(machine_busy)
declare -A AFTER
for name in "${!PID_OF[@]}"; do AFTER[$name]=$(ticks "${PID_OF[$name]}"); done
kill "$SAMPLER" 2>/dev/null || true
snapshot "$WORK/after"
HZ=$(getconf CLK_TCK)
share() { awk -v a="$1" -v b="$2" -v hz="$3" -v t0="$t0" -v t1="$t1" 'BEGIN{printf "%.0f%%", 100 * (a - b) / hz / (t1 - t0)}'; }
CPU=""
for name in $(printf '%s\n' "${!PID_OF[@]}" | sort); do
  CPU+="$name=$(share "${AFTER[$name]}" "${BEFORE[$name]}" "$HZ") "
done
CPU+="loadgen=$(share "$(children_cpu "$WORK/times.after")" "$(children_cpu "$WORK/times.before")" 1)"
CPU+="; the whole machine $(share "$machine_after" "$machine_before" "$HZ") of $(nproc)00%"

echo "# raw"
echo "hop  $(cat "$WORK/hop.json")"
echo "loop $(cat "$WORK/loop.json")"
echo
python3 - "$WORK/hop.json" "$WORK/loop.json" "$CPU" "$REPLICAS" "${LINGER:-default}" "$WORK" \
  "${FETCH_WAIT:-default}" \
  "$(awk -v t0="$t0" -v t1="$t1" 'BEGIN{print t1 - t0}')" <<'PY'
import collections, json, re, sys
hop = json.load(open(sys.argv[1]))
loop = json.load(open(sys.argv[2]))
cpu, replicas, linger, work = sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
fetch_wait, seconds = sys.argv[7], float(sys.argv[8])

def row(name, d, extra=""):
    print(f"| {name} | {d['n']:,} | {d['p50']:.2f} | {d['p99']:.2f} | {d['p999']:.2f} | {d['max']:.2f} | {extra} |")

print(f"rate {loop['rate']:.0f}/s for {loop['measured_s']:.0f} s; dispatch replicas {replicas}; "
      f"producer linger {linger}; consumer fetch wait {fetch_wait}; hop records {hop['payload_bytes']} B, "
      f"reported events {loop['event_bytes']:.0f} B")
print()
print("| from the due time to | n | p50 ms | p99 ms | p99.9 ms | max ms | not arrived |")
print("|---|---|---|---|---|---|---|")
row("hop: record read", hop["latency_ms"], f"{hop['lost']} lost, {hop['failed']} failed")
row("loop: `reported` event read", loop["reported_ms"],
    f"{loop['reported'] - loop['failed'] - loop['reported_events']}")
row("loop: `assigned` event read", loop["assigned_ms"],
    f"{loop['unassigned']} unassigned, {loop['failed']} failed")
print()
h, l = hop["latency_ms"], loop["assigned_ms"]
diff = l["p99"] - h["p99"]
print(f"loop p99 - hop p99 = {diff:.2f} ms (target <= 10 ms: {'met' if diff <= 10 else 'NOT met'}); "
      f"loop p99 / hop p99 = {l['p99'] / h['p99']:.2f}x; p50 difference {l['p50'] - h['p50']:.2f} ms")
print(f"unassigned after the grace: {loop['unassigned']} (target 0: "
      f"{'met' if loop['unassigned'] == 0 and loop['failed'] == 0 else 'NOT met'})")
print()
print("| where the loop's time goes | p50 ms | p99 ms | p99.9 ms |")
print("|---|---|---|---|")
names = {
    "relay_reported": "incidents: reported_at -> relay produces `reported`",
    "hop_reported": "Kafka hop 1: produce -> read",
    "dispatch": "dispatch: `reported` produced -> assigned_at",
    "relay_assigned": "incidents: assigned_at -> relay produces `assigned`",
    "hop_assigned": "Kafka hop 2: produce -> read",
}
for key, name in names.items():
    d = loop["segments_ms"][key]
    print(f"| {name} | {d['p50']:.2f} | {d['p99']:.2f} | {d['p999']:.2f} |")
print(f"| (ReportIncident call, from the due time) | {loop['call_ms']['p50']:.2f} | "
      f"{loop['call_ms']['p99']:.2f} | {loop['call_ms']['p999']:.2f} |")
print(f"| (load generator lateness) | {loop['sender_lag_ms']['p50']:.2f} | "
      f"{loop['sender_lag_ms']['p99']:.2f} | {loop['sender_lag_ms']['p999']:.2f} |")
print()
timeline = loop["timeline"]
print(f"| reports due from (s; {timeline['window_s']:.0f} s each) | n | assigned p50 | assigned p99 | "
      "relay 1 p99 | hop 1 p99 | dispatch p99 | relay 2 p99 | hop 2 p99 |")
print("|---|---|---|---|---|---|---|---|---|")
for w in timeline["windows"]:
    cells = [w["assigned"]["p50"], w["assigned"]["p99"]] + [
        w[k]["p99"] for k in ("relay_reported", "hop_reported", "dispatch", "relay_assigned",
                              "hop_assigned")]
    print(f"| {w['from_s']:.0f} | {w['assigned']['n']:,} | " + " | ".join(f"{c:.2f}" for c in cells) + " |")
print()

def rpcs(path):
    out = collections.defaultdict(lambda: [0.0, 0.0])
    pat = re.compile(r'^(\S+) gridloop_rpc_duration_seconds_(sum|count)\{(.*)\} (\S+)$')
    for line in open(path):
        m = pat.match(line.strip())
        if not m:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(3)))
        key = (m.group(1), labels.get("method", "?"), labels.get("code", "?"))
        out[key][0 if m.group(2) == "sum" else 1] += float(m.group(4))
    return out

before, after = rpcs(f"{work}/before.metrics"), rpcs(f"{work}/after.metrics")
print("| during the loop run: RPC (server side) | calls/s | mean ms |")
print("|---|---|---|")
for key in sorted(after):
    s1, c1 = after[key]
    s0, c0 = before.get(key, [0.0, 0.0])
    if c1 - c0 < 1:
        continue
    print(f"| {key[0]} {key[1]} {key[2]} | {(c1 - c0) / seconds:,.0f} | {1000 * (s1 - s0) / (c1 - c0):.2f} |")

def cmdstats(path):
    out = {}
    for line in open(path):
        m = re.match(r'cmdstat_(\w+):calls=(\d+),usec=(\d+)', line)
        if m:
            out[m.group(1)] = (int(m.group(2)), int(m.group(3)))
    return out

rb, ra = cmdstats(f"{work}/before.redis"), cmdstats(f"{work}/after.redis")
print()
print("| during the loop run: Redis command | calls/s | usec per call |")
print("|---|---|---|")
for cmd in sorted(ra, key=lambda c: -(ra[c][0] - rb.get(c, (0, 0))[0])):
    calls = ra[cmd][0] - rb.get(cmd, (0, 0))[0]
    usec = ra[cmd][1] - rb.get(cmd, (0, 0))[1]
    if calls / seconds >= 1:
        print(f"| {cmd} | {calls / seconds:,.0f} | {usec / calls:.1f} |")

lags = collections.defaultdict(list)
for line in open(f"{work}/lag.samples"):
    parts = line.split()
    if len(parts) == 3:
        lags[parts[0] + " " + parts[1]].append(float(parts[2]))
print()
for key in sorted(lags):
    v = lags[key]
    print(f"lag gauge {key}: max {max(v):.0f}, mean {sum(v) / len(v):.1f} over {len(v)} samples")
print(f"CPU during the loop run (100% = one core): {cpu}")
PY
[[ $hop_rc -eq 0 ]] || echo "# the hop run reported failures (exit $hop_rc)" >&2
exit "$loop_rc"
