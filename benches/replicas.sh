#!/usr/bin/env bash
# naap's router vs. nginx, both balancing the SAME replicas of one slot, with 1, 2 and 4
# replicas, in the same run; and how long `naap scale bench 1 → 4` takes until all serve.
#
#   bash benches/replicas.sh
#
# For each replica count it scales the plugin, writes an nginx upstream with exactly the
# slot's replica ports (`least_conn`, as naap balances by least outstanding requests),
# reloads nginx, then runs wrk against the direct path to replica 0, nginx and naap,
# interleaved ROUNDS times, and prints the medians (added p99 is over the direct path).
#
# Environment: DURATION (5s), CONNECTIONS ("64"), THREADS (1), ROUNDS (3), WORKERS (nproc),
# REPLICAS ("1 2 4"), NAAP_BIN, KEEP_RAW — as in benches/router.sh.
set -euo pipefail

DURATION=${DURATION:-5s}
CONNECTIONS=${CONNECTIONS:-64}
REPLICAS=${REPLICAS:-1 2 4}
THREADS=${THREADS:-1}
ROUNDS=${ROUNDS:-3}
WORKERS=${WORKERS:-$(nproc)}
KEEP_RAW=${KEEP_RAW:-0}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

die() {
    echo "replicas.sh: $*" >&2
    exit 1
}
log() { echo "replicas.sh: $*" >&2; }

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

tmp=$(mktemp -d -t naap-replica-bench.XXXXXX)
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

# write_nginx PORTS...: an upstream of exactly these replica ports.
write_nginx() {
    local servers="" port
    for port in "$@"; do servers+="        server 127.0.0.1:$port;"$'\n'; done
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
        least_conn;
$servers        keepalive 64;
    }
    server {
        listen 127.0.0.1:$nginx_port;
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
}

# replica_ports: the live slot's replica ports (its own port when it runs one).
replica_ports() {
    "$naap" --workspace "$ws" --no-start status --json | jq -r '[.plugins[] | select(.name == "bench") | .slots[]
        | select(.weight == 100)] | first | if (.replicas | length) > 0 then .replicas[].port else .port end'
}

to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v; sub(/[a-z]+$/, "", n); u = v; sub(/^[0-9.]+/, "", u);
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000;
        printf "%.3f", n }'
}
wrk_pid=""
run_wrk() {
    local target=$1 conns=$2 name=$3 out
    out=$raw/$name.txt
    wrk -t"$THREADS" -c"$conns" -d"$DURATION" --latency "$target" >"$out" 2>&1 &
    wrk_pid=$!
    wait "$wrk_pid" || { cat "$out" >&2; die "wrk failed for $name"; }
    wrk_pid=""
    if grep -q 'Non-2xx or 3xx responses\|Socket errors' "$out"; then
        cat "$out" >&2
        die "$name: failed requests"
    fi
    w_rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
    w_p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

write_nginx "$slot_port"
nginx -p "$ngx" -c "$ngx/nginx.conf" -g 'daemon off;' 2>>"$ngx/logs/error.log" &
nginx_pid=$!
sleep 0.5

declare -A res
for n in $REPLICAS; do
    out=$("$naap" --workspace "$ws" --no-start --json scale bench "$n") || die "scale to $n failed: $out"
    log "scaled to $n in $(jq -r '.elapsed_ms' <<<"$out") ms"
    mapfile -t ports < <(replica_ports)
    [[ ${#ports[@]} -eq $n ]] || die "expected $n replica ports, got ${ports[*]}"
    write_nginx "${ports[@]}"
    kill -HUP "$nginx_pid"
    sleep 1
    direct="http://127.0.0.1:${ports[0]}/api/items"
    via_nginx="http://127.0.0.1:$nginx_port/bench/api/items"
    via_naap="http://$router/bench/api/items"
    for conns in $CONNECTIONS; do
        for t in "$via_nginx" "$via_naap"; do
            wrk -t"$THREADS" -c"$conns" -d2s "$t" >/dev/null 2>&1 || die "warm-up failed"
        done
        r_ng=() r_na=() p_ng=() p_na=() p_di=()
        for round in $(seq "$ROUNDS"); do
            run_wrk "$direct" "$conns" "n$n-c$conns-r$round-direct"
            p_di+=("$w_p99")
            run_wrk "$via_nginx" "$conns" "n$n-c$conns-r$round-nginx"
            r_ng+=("$w_rps")
            p_ng+=("$w_p99")
            run_wrk "$via_naap" "$conns" "n$n-c$conns-r$round-naap"
            r_na+=("$w_rps")
            p_na+=("$w_p99")
            log "n=$n c$conns round $round: nginx ${r_ng[-1]} req/s p99 ${p_ng[-1]} ms; naap ${r_na[-1]} req/s p99 ${p_na[-1]} ms; direct p99 ${p_di[-1]} ms"
        done
        res[$n,$conns]="$(median "${r_ng[@]}") $(median "${r_na[@]}") $(median "${p_ng[@]}") $(median "${p_na[@]}") $(median "${p_di[@]}")"
    done
done

# Scale time 1 → 4 on its own, from one replica.
"$naap" --workspace "$ws" --no-start --json scale bench 1 >/dev/null || die "scale to 1 failed"
out=$("$naap" --workspace "$ws" --no-start --json scale bench 4) || die "scale 1 → 4 failed"
scale_ms=$(jq -r '.elapsed_ms' <<<"$out")

cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
echo
echo "naap vs nginx balancing the same replicas — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores ($cpu), wrk -t$THREADS -d$DURATION, median of $ROUNDS interleaved runs; nginx least_conn, worker_processes $WORKERS"
echo
echo "| replicas | conns | nginx req/s | naap req/s | naap/nginx | added p99 nginx ms | added p99 naap ms |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for n in $REPLICAS; do
    for conns in $CONNECTIONS; do
        read -r ng na png pna pdi <<<"${res[$n,$conns]}"
        awk -v n="$n" -v c="$conns" -v ng="$ng" -v na="$na" -v png="$png" -v pna="$pna" -v pdi="$pdi" 'BEGIN {
            printf "| %s | %s | %.0f | %.0f | %.2f | %.3f | %.3f |\n", n, c, ng, na, na / ng, png - pdi, pna - pdi }'
    done
done
echo
echo "scale 1 → 4 until all four serve: $scale_ms ms (the engine's own measure: started, health checks passed, in the route table)"
