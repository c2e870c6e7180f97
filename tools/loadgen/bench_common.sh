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
start_redis() {
  REDIS_PORT=$(free_port)
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$WORK" --appendonly yes \
    --appendfsync everysec --save "" >"$WORK/redis.log" 2>&1 &
  PIDS+=($!)
  wait_port "$REDIS_PORT"
}
