#!/usr/bin/env bash
# The test command: lint, type-check, then pytest. A Redis server is started for the run when
# none answers at REDIS_URL (and stopped afterwards). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
export PATH="$PWD/$VENV/bin:$PATH"
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}

started_redis=""
if ! python -c "import redis,os,sys; redis.Redis.from_url(os.environ['REDIS_URL'], socket_connect_timeout=1).ping()" 2>/dev/null; then
  port=6391
  echo "test: no Redis at $REDIS_URL; starting a private redis-server on port $port"
  redis-server --port $port --save "" --appendonly no --daemonize yes --pidfile /tmp/diffae-test-redis.pid >/dev/null
  export REDIS_URL="redis://127.0.0.1:$port/0"
  started_redis=1
  for _ in $(seq 50); do redis-cli -p $port ping >/dev/null 2>&1 && break; sleep 0.1; done
fi
cleanup() { [ -n "$started_redis" ] && kill "$(cat /tmp/diffae-test-redis.pid)" 2>/dev/null || true; }
trap cleanup EXIT

ruff check .
mypy
if [ $# -eq 0 ]; then set -- -m "not heavy"; fi
python -m pytest "$@"
