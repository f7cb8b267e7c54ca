#!/usr/bin/env bash
# Write the nginx configuration for N replicas (deploy/nginx.conf.in, filled) to stdout.
#
#   deploy/nginx-conf.sh RUN_DIR LISTEN REPLICA...
#
#   RUN_DIR   absolute path of a writable folder for nginx's pid, logs and temp files
#   LISTEN    the proxy's address:port, e.g. 127.0.0.1:8500
#   REPLICA   each replica's IP:port (a bare port means 127.0.0.1:PORT); replica i
#             (from 1) is named r<i> in the route cookie and the X-Autoreg-Replica header
#
# nginx then runs as the current user: nginx -p RUN_DIR -c RUN_DIR/nginx.conf -e
# RUN_DIR/error.log -g 'daemon off;' (deploy/cluster.sh does this).
set -euo pipefail

if [ $# -lt 3 ]; then
    echo "usage: deploy/nginx-conf.sh RUN_DIR LISTEN REPLICA..." >&2
    exit 2
fi
run_dir="$1"
listen="$2"
shift 2
case "$run_dir" in /*) ;; *) echo "RUN_DIR must be an absolute path" >&2; exit 2 ;; esac

replicas=()
for r in "$@"; do
    case "$r" in *:*) ;; *) r="127.0.0.1:$r" ;; esac
    if ! [[ "$r" =~ ^[0-9.]+:[0-9]+$ ]]; then
        echo "replica $r: give IP:port (nginx reports the address it connected to)" >&2
        exit 2
    fi
    replicas+=("$r")
done

any="" groups="" routes="" answered=""
for i in "${!replicas[@]}"; do
    name="r$((i + 1))"
    addr="${replicas[$i]}"
    any+="        server $addr max_fails=1 fail_timeout=10s;"$'\n'
    groups+="    upstream autoreg_$name {"$'\n'"        server $addr max_fails=1 fail_timeout=10s;"$'\n'
    for j in "${!replicas[@]}"; do
        [ "$j" = "$i" ] || groups+="        server ${replicas[$j]} backup;"$'\n'
    done
    groups+="    }"$'\n'
    routes+="        $name autoreg_$name;"$'\n'
    answered+="        \"~(^|\\s)${addr//./\\.}\$\" $name;"$'\n'
done
user=""  # a root master would hand its workers to nobody, who cannot write RUN_DIR
[ "$(id -u)" = 0 ] && user="user $(id -un) $(id -gn);"

template="$(dirname "$0")/nginx.conf.in"
while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in
        @ANY@) printf '%s' "$any" ;;
        @GROUPS@) printf '%s' "$groups" ;;
        @ROUTES@) printf '%s' "$routes" ;;
        @ANSWERED@) printf '%s' "$answered" ;;
        @USER@) [ -z "$user" ] || printf '%s\n' "$user" ;;
        *)
            line="${line//@RUN_DIR@/$run_dir}"
            printf '%s\n' "${line//@LISTEN@/$listen}"
            ;;
    esac
done <"$template"
