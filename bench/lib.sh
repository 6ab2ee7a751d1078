# Helpers of the bench sections under bench/ (sourced, not run).
#
# Sets BIN (CHATPAY_BIN, default build/chatpay), WRK_THREADS, CONNS,
# SECONDS_PER_RUN as bench/run does, and `work`, a temporary folder removed
# on exit together with every process listed in `pids`.

BIN=${CHATPAY_BIN:-build/chatpay}
SECONDS_PER_RUN=${BENCH_SECONDS:-10}
CONNS=${BENCH_CONNECTIONS:-64}
WRK_THREADS=${BENCH_THREADS:-2}
work=$(mktemp -d /tmp/chatpay-bench.XXXXXX)
chmod 755 "$work" # nginx workers run as an unprivileged user
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_http URL: until it answers 2xx (10 s at most)
wait_http() {
  for _ in $(seq 1 100); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "bench: $1 did not come up" >&2
  return 1
}

# json_field FIELD: one field of the JSON on stdin
json_field() { /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

# new_merchant DB NAME: creates a sandbox merchant, prints "merchantId apiKey"
new_merchant() {
  "$BIN" merchant create --name "$2" --currencies ZAR --db "$1" --json 2>>"$work/cli.err" |
    /usr/bin/python3 -c 'import json,sys; m=json.load(sys.stdin); print(m["merchantId"], m["apiKey"])'
}

# start_chatpay DB LOG_NAME: `chatpay serve` on a free port; sets cp_pid, cp_url
start_chatpay() {
  local port
  port=$(free_port)
  CHATPAY_LOG_LEVEL=warn "$BIN" serve --listen "127.0.0.1:$port" --db "$1" \
    >"$work/$2.out" 2>>"$work/$2.err" &
  cp_pid=$!
  pids+=("$cp_pid")
  cp_url="http://127.0.0.1:$port"
  wait_http "$cp_url/livez"
}

stop_chatpay() { kill "$cp_pid" 2>/dev/null || true; wait "$cp_pid" 2>/dev/null || true; }

# start_nginx LOCATIONS: nginx on a free port with these location blocks,
# the files under $work/www; sets ng_url
start_nginx() {
  local port
  port=$(free_port)
  mkdir -p "$work/www" "$work/nginx"
  cat >"$work/nginx/nginx.conf" <<CONF
worker_processes $(nproc);
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
$(for t in client_body proxy fastcgi uwsgi scgi; do echo "  ${t}_temp_path $work/nginx/$t;"; done)
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$port;
    root $work/www;
$1
  }
}
CONF
  nginx -c "$work/nginx/nginx.conf" -g 'daemon off;' &
  pids+=($!)
  ng_url="http://127.0.0.1:$port"
}

# wrk_run NAME CONNS SECONDS URL [wrk args...]: runs wrk into $work/NAME.txt
# and prints "requests/s p99_ms non_2xx socket_errors"
wrk_run() {
  local name=$1 conns=$2 secs=$3 url=$4
  shift 4
  wrk -t"$WRK_THREADS" -c"$conns" -d"${secs}s" --latency "$@" "$url" >"$work/$name.txt"
  /usr/bin/python3 - "$work/$name.txt" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
p99 = float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)] if m else float("nan")
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
print(f"{rps:.0f} {p99:.3f} {bad.group(1) if bad else 0} {sum(map(int, sock.groups())) if sock else 0}")
PY
}

# tcp_counters: the kernel's counters of refused or retried connections
# (cumulative; subtract two readings)
tcp_counters() {
  nstat -az 2>/dev/null | awk '$1 ~ /^TcpExt(ListenOverflows|ListenDrops|TCPSynRetrans)$/ {s += $2} END {print s + 0}'
}

# cpu_ticks: "tasks total" jiffies of the whole machine so far (/proc/stat):
# time in programs (user, nice, system) and stolen by the hypervisor, and
# all time (interrupts, which carry loopback traffic, only in the total)
cpu_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat; }

# proc_cpu PID: CPU seconds the process has used so far
proc_cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"; }

# children_cpu: CPU seconds used by this shell's finished children (wrk...)
children_cpu() {
  times | awk 'NR == 2 {
    s = 0
    for (i = 1; i <= 2; i++) { split($i, t, /[ms]/); s += t[1] * 60 + t[2] }
    printf "%.2f", s }'
}
