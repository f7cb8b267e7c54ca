#!/usr/bin/env bash
# REPLICAS replicas of the app behind nginx, all on loopback, in the foreground.
# Ctrl-C (or SIGTERM) stops them all. `make cluster REPLICAS=2 PORT=8500` runs this, and
# so does the browser test (tests/browser/test_cluster.py).
#
#   deploy/cluster.sh [REPLICAS] [PORT]         defaults: 2 replicas, proxy on 8500
#
# Environment:
#   REPLICA_PORTS          the replicas' ports, space-separated (default PORT+1 .. PORT+N)
#   RUN_DIR                nginx's configuration, logs and temp files, the replicas' logs
#                          and pid files r<i>.pid (default runs/cluster)
#   AUTOREG_COOKIE_SECRET  shared by the replicas (default: drawn once for this cluster)
#   AUTOREG_PYTHON         the interpreter (default .venv/bin/python, else python3)
#   AUTOREG_NGINX          the nginx binary (default: nginx on PATH, else /usr/sbin/nginx)
#
# Replica i listens on 127.0.0.1:<port i> and is named r<i> in nginx's route cookie and
# X-Autoreg-Replica header. The replicas share the host's disk, so the models a browser
# trained or opened (autoreg.store) are found by every replica (docs/deploy.md).
set -euo pipefail
cd "$(dirname "$0")/.."

n="${1:-2}"
port="${2:-8500}"
if ! [[ "$n" =~ ^[1-9][0-9]*$ && "$port" =~ ^[0-9]+$ ]]; then
    echo "usage: deploy/cluster.sh [REPLICAS] [PORT]" >&2
    exit 2
fi
read -r -a ports <<<"${REPLICA_PORTS:-}"
if [ "${#ports[@]}" = 0 ]; then
    for i in $(seq 1 "$n"); do ports+=("$((port + i))"); done
elif [ "${#ports[@]}" != "$n" ]; then
    echo "REPLICA_PORTS names ${#ports[@]} ports for $n replicas" >&2
    exit 2
fi
python="${AUTOREG_PYTHON:-}"
if [ -z "$python" ]; then
    if [ -x .venv/bin/python ]; then python=.venv/bin/python; else python=python3; fi
fi
export AUTOREG_PYTHON="$python"
nginx="${AUTOREG_NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}"
if [ ! -x "$nginx" ]; then
    echo "nginx not found: install Debian's package (make nginx, as root) or set AUTOREG_NGINX" >&2
    exit 2
fi
run_dir="${RUN_DIR:-runs/cluster}"
mkdir -p "$run_dir"
run_dir="$(cd "$run_dir" && pwd)"
export AUTOREG_COOKIE_SECRET="${AUTOREG_COOKIE_SECRET:-$("$python" -c 'import secrets; print(secrets.token_hex(32))')}"

"$python" deploy/check.py  # the image's build runs the same check

deploy/nginx-conf.sh "$run_dir" "127.0.0.1:$port" "${ports[@]}" >"$run_dir/nginx.conf"
nginx_args=(-p "$run_dir" -c "$run_dir/nginx.conf" -e "$run_dir/error.log")
"$nginx" -q -t "${nginx_args[@]}"

pids=()
stop() {
    trap - INT TERM EXIT
    echo "stopping the cluster"
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait || true
    exit "${1:-0}"
}
trap 'stop 0' INT TERM
trap 'stop $?' EXIT

for i in "${!ports[@]}"; do
    name="r$((i + 1))"
    deploy/serve.sh "${ports[$i]}" >"$run_dir/$name.log" 2>&1 &
    pids+=("$!")
    echo "$!" >"$run_dir/$name.pid"
done
"$nginx" "${nginx_args[@]}" -g "daemon off;" &
nginx_pid=$!
pids+=("$nginx_pid")

for i in "${!ports[@]}"; do
    if ! "$python" deploy/health.py "http://127.0.0.1:${ports[$i]}" --wait 180; then
        echo "replica r$((i + 1)) did not start; its log:" >&2
        tail -n 30 "$run_dir/r$((i + 1)).log" >&2
        exit 1
    fi
done
"$python" deploy/health.py "http://127.0.0.1:$port" --wait 30
echo "autoreg cluster ready: http://127.0.0.1:$port ($n replicas:$(
    for i in "${!ports[@]}"; do printf ' r%d=127.0.0.1:%s' "$((i + 1))" "${ports[$i]}"; done
); logs in $run_dir)"

# In the foreground until nginx stops or a signal comes; report replicas that stop.
declare -A reported=()
while kill -0 "$nginx_pid" 2>/dev/null; do
    wait -n || true
    for i in "${!ports[@]}"; do
        pid="${pids[$i]}"
        if [ -z "${reported[$pid]:-}" ] && ! kill -0 "$pid" 2>/dev/null; then
            reported[$pid]=1
            echo "replica r$((i + 1)) (port ${ports[$i]}) stopped; nginx sends its browsers to the others"
        fi
    done
done
echo "nginx stopped" >&2
exit 1
