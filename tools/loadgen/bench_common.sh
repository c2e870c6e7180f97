# Shared by the bench_*.sh scripts (sourced, not run): a scratch directory and the processes
# started in it, both cleaned up on exit; free loopback ports; waiting for a port to open.
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=tools/free_port.sh
source "$ROOT/tools/free_port.sh"
wait_port() { for _ in $(seq 1 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.05; done; echo "port $1 never opened" >&2; exit 1; }

# Redis with AOF on and appendfsync everysec, as in production; sets REDIS_PORT.
# BENCH_AOF_REWRITE=auto lets Redis compact its AOF on its own (every doubling past 64 MB).
# By default it does not during a run: each compaction forks a child that rewrites the
# whole dataset, seconds of a core that on a two-core machine are taken from the services
# (where production Redis has cores of its own). Every write is still appended and synced.
start_redis() {
  REDIS_PORT=$(free_port)
  local rewrite=0
  [[ "${BENCH_AOF_REWRITE:-off}" == auto ]] && rewrite=100
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$WORK" --appendonly yes \
    --appendfsync everysec --auto-aof-rewrite-percentage "$rewrite" --save "" \
    >"$WORK/redis.log" 2>&1 &
  PIDS+=($!)
  wait_port "$REDIS_PORT"
}
