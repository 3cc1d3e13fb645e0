#!/usr/bin/env bash
# Idempotent set-up for a fresh machine: Debian packages the tests need, a virtualenv and the
# pinned Python packages. Re-runs are cheap: pip runs only when requirements changed.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}

need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_apt[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
fi
stamp="$VENV/.requirements.sha"
want=$(cat requirements.txt requirements-dev.txt requirements-train.txt requirements-train-nodeps.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing Python packages (torch is the local CPU wheel, pinned)"
  "$VENV/bin/pip" install -q -r requirements.txt -r requirements-dev.txt -r requirements-train.txt
  "$VENV/bin/pip" install -q --no-deps -r requirements-train-nodeps.txt
  echo "$want" > "$stamp"
fi
