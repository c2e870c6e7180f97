# free_port: prints a free loopback TCP port. Sourced by tools/dev and the bench scripts.
# The port is picked below the kernel's ephemeral range, which outgoing connections take
# their local ports from: none of them can hold it by the time a server binds it.
free_port() {
  local low=32768 high=60999 p
  read -r low high < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
  local base=10000 span=$((low - 10000))
  ((span >= 1000)) || { base=$((high + 1)); span=$((65535 - high)); }
  for _ in $(seq 1 50); do
    p=$(( base + (RANDOM * 32768 + RANDOM) % span ))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
  echo "no free port" >&2; exit 1
}
