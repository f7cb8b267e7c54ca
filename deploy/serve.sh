#!/usr/bin/env bash
# One replica of the app with the production flags: the image's command, and what
# deploy/cluster.sh (`make cluster`, and its test) starts for each replica.
#
#   deploy/serve.sh [PORT]          PORT defaults to $AUTOREG_PORT, else 8501
#
# Environment:
#   AUTOREG_COOKIE_SECRET  required: one value shared by every replica, so that a cookie
#                          Streamlit signs on one replica is accepted by the others
#   AUTOREG_ADDRESS        the address to bind (default 127.0.0.1; the image sets 0.0.0.0)
#   AUTOREG_PYTHON         the interpreter (default .venv/bin/python in a checkout, else python3)
#   AUTOREG_CACHE_DIR      where the models each browser trains or opens are kept
#                          (default ~/.cache/autoreg): share it between replicas
set -euo pipefail
cd "$(dirname "$0")/.."

port="${1:-${AUTOREG_PORT:-8501}}"
address="${AUTOREG_ADDRESS:-127.0.0.1}"
python="${AUTOREG_PYTHON:-}"
if [ -z "$python" ]; then
    if [ -x .venv/bin/python ]; then python=.venv/bin/python; else python=python3; fi
fi
if [ -z "${AUTOREG_COOKIE_SECRET:-}" ]; then
    echo "deploy/serve.sh: set AUTOREG_COOKIE_SECRET, the same for every replica" >&2
    exit 2
fi

# Streamlit reads its options from STREAMLIT_* variables too: the secret stays out of `ps`.
export STREAMLIT_SERVER_COOKIE_SECRET="$AUTOREG_COOKIE_SECRET"
unset AUTOREG_COOKIE_SECRET
exec "$python" -m streamlit run app.py \
    --server.headless true \
    --server.fileWatcherType none \
    --server.runOnSave false \
    --server.address "$address" \
    --server.port "$port" \
    --server.enableXsrfProtection true \
    --server.enableCORS true \
    --browser.gatherUsageStats false \
    --logger.hideWelcomeMessage true  # its URLs are the replica's, and 0.0.0.0 asks the internet
