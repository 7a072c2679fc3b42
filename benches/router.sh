#!/usr/bin/env bash
# naap's router vs. nginx vs. the slot itself, same slot process, same run.
#
#   bash benches/router.sh
#
# Builds the release binary, starts an engine on a throw-away workspace with one plugin
# (the built-in sample service), starts nginx with its own prefix and config in front of
# the SAME slot process, then runs wrk against the three paths, interleaved
# (direct, nginx, naap, direct, ...) ROUNDS times, and prints the medians as a markdown
# table. Everything started here is stopped on exit, also on failure or Ctrl-C.
#
# Environment:
#   DURATION=10s        wrk duration per measurement
#   CONNECTIONS="32 128" connection counts, one table row group each
#   THREADS=1           wrk threads
#   ROUNDS=3            measurements per path and connection count (median reported)
#   WORKERS=<nproc>     nginx worker_processes (naap's tokio runtime uses one worker per core)
#   NAAP_BIN=...        use this binary and skip `cargo build --release`
#   KEEP_RAW=1          keep the wrk outputs and print where they are
set -euo pipefail

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32 128}
THREADS=${THREADS:-1}
ROUNDS=${ROUNDS:-3}
WORKERS=${WORKERS:-$(nproc)}
KEEP_RAW=${KEEP_RAW:-0}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

die() {
    echo "router.sh: $*" >&2
    exit 1
}
log() { echo "router.sh: $*" >&2; }

for tool in nginx wrk jq curl; do
    command -v "$tool" >/dev/null || die "$tool is not installed (apt-get install -y nginx wrk jq curl)"
done

if [[ -n ${NAAP_BIN:-} ]]; then
    naap=$NAAP_BIN
else
    log "building the release binary"
    (cd "$here" && cargo build --release --quiet) || die "cargo build --release failed"
    naap=$here/target/release/naap
fi
[[ -x $naap ]] || die "no naap binary at $naap"

tmp=$(mktemp -d -t naap-router-bench.XXXXXX)
ws=$tmp/ws
ngx=$tmp/nginx
raw=$tmp/raw
mkdir -p "$ws/plugins/bench" "$ngx/logs" "$ngx/tmp" "$raw"
engine_pid=""
nginx_pid=""

cleanup() {
    local status=$?
    set +e
    [[ -n ${wrk_pid:-} ]] && kill "$wrk_pid" 2>/dev/null
    if [[ -n $nginx_pid ]] && kill -0 "$nginx_pid" 2>/dev/null; then
        kill -QUIT "$nginx_pid" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$nginx_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$nginx_pid" 2>/dev/null
    fi
    if [[ -n $engine_pid ]]; then
        "$naap" --workspace "$ws" --no-start stop --plugins >/dev/null 2>&1
        for _ in $(seq 100); do kill -0 "$engine_pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$engine_pid" 2>/dev/null; then
            log "engine did not stop; killing pid $engine_pid"
            kill -KILL "$engine_pid" 2>/dev/null
        fi
    fi
    if [[ $status -ne 0 ]]; then
        log "failed (exit $status); engine log tail:"
        tail -n 20 "$tmp/engine.log" >&2 2>/dev/null
        tail -n 20 "$ngx/logs/error.log" >&2 2>/dev/null
    fi
    if [[ $KEEP_RAW == 1 ]]; then
        log "raw outputs kept in $tmp"
    else
        rm -rf "$tmp"
    fi
    exit $status
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- the workspace: one plugin, the built-in sample service -----------------------------
cat >"$ws/naap.toml" <<'EOF'
[router]
listen = "127.0.0.1:0"
admin = "127.0.0.1:0"

[[plugins]]
path = "plugins/bench"
EOF
cat >"$ws/plugins/bench/plugin.toml" <<'EOF'
[plugin]
name = "bench"
version = "1.0.0"
route = "/bench"

[run]
command = "{naap} sample-service --port {port} --version {version}"

[health]
interval = "1s"
timeout = "500ms"

[strategy]
kind = "blue-green"

[rollback]
keep_previous_warm = "30m"
EOF

log "starting the engine on $ws"
"$naap" serve --workspace "$ws" >"$tmp/engine.log" 2>&1 &
engine_pid=$!

router="" slot_port=""
for _ in $(seq 200); do
    kill -0 "$engine_pid" 2>/dev/null || die "the engine exited early"
    if status=$("$naap" --workspace "$ws" --no-start status --json 2>/dev/null); then
        router=$(jq -r '.engine.router // empty' <<<"$status")
        slot_port=$(jq -r '[.plugins[] | select(.name == "bench") | .slots[]
            | select(.weight == 100 and .health == "healthy") | .port] | first // empty' <<<"$status")
        [[ -n $router && -n $slot_port ]] && break
    fi
    sleep 0.1
done
[[ -n $router && -n $slot_port ]] || die "no healthy live slot after 20 s; last status: ${status:-none}"
log "router at $router, live slot on port $slot_port"

# --- nginx: own prefix and config, same slot process -------------------------------------
free_port() {
    local port
    for _ in $(seq 100); do
        port=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
    die "no free port found"
}
nginx_port=$(free_port)
user_line=""
[[ $(id -u) -eq 0 ]] && user_line="user root;"
cat >"$ngx/nginx.conf" <<EOF
$user_line
worker_processes $WORKERS;
pid $ngx/nginx.pid;
error_log $ngx/logs/error.log warn;
events {
    worker_connections 4096;
}
http {
    access_log off;
    client_body_temp_path $ngx/tmp/body;
    proxy_temp_path $ngx/tmp/proxy;
    fastcgi_temp_path $ngx/tmp/fastcgi;
    uwsgi_temp_path $ngx/tmp/uwsgi;
    scgi_temp_path $ngx/tmp/scgi;
    upstream slot {
        server 127.0.0.1:$slot_port;
        keepalive 64;
    }
    server {
        listen 127.0.0.1:$nginx_port;
        # Same job as naap's route: strip the /bench prefix and add x-forwarded-*.
        location /bench/ {
            proxy_pass http://slot/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto \$scheme;
            proxy_set_header X-Forwarded-Host \$host;
        }
    }
}
EOF
nginx -p "$ngx" -c "$ngx/nginx.conf" -t -q 2>"$tmp/nginx-t.log" || { cat "$tmp/nginx-t.log" >&2; die "nginx config test failed"; }
nginx -p "$ngx" -c "$ngx/nginx.conf" -g 'daemon off;' 2>>"$ngx/logs/error.log" &
nginx_pid=$!

declare -A url=(
    [direct]="http://127.0.0.1:$slot_port/api/items"
    [nginx]="http://127.0.0.1:$nginx_port/bench/api/items"
    [naap]="http://$router/bench/api/items"
)
paths=(direct nginx naap)

for p in "${paths[@]}"; do
    ok=""
    for _ in $(seq 50); do
        if code=$(curl --noproxy '*' -s -o /dev/null -w '%{http_code}' "${url[$p]}") && [[ $code == 200 ]]; then
            ok=1
            break
        fi
        sleep 0.1
    done
    [[ -n $ok ]] || die "$p (${url[$p]}) does not answer 200"
done
slot_header=$(curl --noproxy '*' -s -D - -o /dev/null "${url[naap]}" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-naap-slot"{print $2}')
[[ -n $slot_header ]] || die "no x-naap-slot header through the router"

# --- measuring -----------------------------------------------------------------------------
# wrk prints latencies like 312.00us, 1.20ms, 1.01s; convert to milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v; sub(/[a-z]+$/, "", n); u = v; sub(/^[0-9.]+/, "", u);
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000;
        printf "%.3f", n }'
}

# run_wrk PATH CONNECTIONS ROUND: sets w_rps, w_p50 and w_p99 (ms). wrk runs in the
# background so that a signal reaches the trap at once, not after the measurement.
wrk_pid=""
run_wrk() {
    local path=$1 conns=$2 round=$3 out
    out=$raw/$path-c$conns-r$round.txt
    wrk -t"$THREADS" -c"$conns" -d"$DURATION" --latency "${url[$path]}" >"$out" 2>&1 &
    wrk_pid=$!
    wait "$wrk_pid" || { cat "$out" >&2; die "wrk failed for $path"; }
    wrk_pid=""
    if grep -q 'Non-2xx or 3xx responses' "$out"; then
        cat "$out" >&2
        die "$path: non-2xx responses"
    fi
    if grep -q 'Socket errors' "$out"; then
        # Timeouts and resets under load are failures; report them instead of hiding them.
        cat "$out" >&2
        die "$path: socket errors"
    fi
    w_rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
    w_p50=$(awk '$1 == "50%" {print $2}' "$out")
    w_p99=$(awk '$1 == "99%" {print $2}' "$out")
    [[ -n $w_rps && -n $w_p50 && -n $w_p99 ]] || { cat "$out" >&2; die "cannot parse wrk output for $path"; }
    w_p50=$(to_ms "$w_p50")
    w_p99=$(to_ms "$w_p99")
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

declare -A rps p50 p99
for conns in $CONNECTIONS; do
    for p in "${paths[@]}"; do rps[$p,$conns]="" p50[$p,$conns]="" p99[$p,$conns]=""; done
    # Warm-up: fill nginx's and naap's upstream pools and the CPU caches, not measured.
    for p in "${paths[@]}"; do
        wrk -t"$THREADS" -c"$conns" -d2s "${url[$p]}" >/dev/null 2>&1 &
        wrk_pid=$!
        wait "$wrk_pid" || die "warm-up failed for $p"
        wrk_pid=""
    done
    for round in $(seq "$ROUNDS"); do
        for p in "${paths[@]}"; do
            run_wrk "$p" "$conns" "$round"
            log "c$conns round $round $p: $w_rps req/s, p50 $w_p50 ms, p99 $w_p99 ms"
            rps[$p,$conns]+="$w_rps "
            p50[$p,$conns]+="$w_p50 "
            p99[$p,$conns]+="$w_p99 "
        done
    done
done

# --- the report ----------------------------------------------------------------------------
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
echo
echo "naap router benchmark — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores ($cpu), wrk -t$THREADS -d$DURATION --latency, median of $ROUNDS interleaved runs; nginx worker_processes $WORKERS; GET /api/items of the sample service"
echo
echo "| conns | path | req/s | p50 ms | p99 ms | all runs req/s |"
echo "| ---: | --- | ---: | ---: | ---: | --- |"
declare -A m_rps m_p50 m_p99
for conns in $CONNECTIONS; do
    for p in "${paths[@]}"; do
        # shellcheck disable=SC2086
        m_rps[$p,$conns]=$(median ${rps[$p,$conns]})
        # shellcheck disable=SC2086
        m_p50[$p,$conns]=$(median ${p50[$p,$conns]})
        # shellcheck disable=SC2086
        m_p99[$p,$conns]=$(median ${p99[$p,$conns]})
        printf '| %s | %s | %.0f | %.3f | %.3f | %s |\n' "$conns" "$p" "${m_rps[$p,$conns]}" \
            "${m_p50[$p,$conns]}" "${m_p99[$p,$conns]}" \
            "$(printf '%s' "${rps[$p,$conns]}" | awk '{for (i = 1; i <= NF; i++) printf "%s%.0f", (i > 1 ? ", " : ""), $i}')"
    done
done

echo
echo "| conns | naap/nginx req/s (target ≥ 1.2) | naap/direct req/s (target ≥ 0.5) | added p99 naap ms | added p99 nginx ms | naap/nginx added p99 (target ≤ 0.5) |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: |"
for conns in $CONNECTIONS; do
    awk -v c="$conns" -v dr="${m_rps[direct,$conns]}" -v nr="${m_rps[nginx,$conns]}" -v ar="${m_rps[naap,$conns]}" \
        -v dp="${m_p99[direct,$conns]}" -v np="${m_p99[nginx,$conns]}" -v ap="${m_p99[naap,$conns]}" 'BEGIN {
        an = ap - dp; nn = np - dp;
        ratio = (nn > 0) ? sprintf("%.2f", an / nn) : "n/a";
        printf "| %s | %.2f | %.2f | %.3f | %.3f | %s |\n", c, ar / nr, ar / dr, an, nn, ratio }'
done
