# Shared set-up of scripts/demo and scripts/test: a venv in .venv with edzoo and its extras.
# Sourced, not run. Re-running is cheap: pip only installs what changed.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${EDZOO_VENV:-$REPO/.venv}"
PY="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating $VENV" >&2
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip > /dev/null
fi
stamp="$VENV/.edzoo-installed"
if [ ! -f "$stamp" ] || [ "$REPO/pyproject.toml" -nt "$stamp" ]; then
  echo "==> installing edzoo[server,dev] into $VENV" >&2
  if ! "$VENV/bin/python" -m pip install -e "$REPO[server,dev]" > "$VENV/install.log" 2>&1; then
    tail -30 "$VENV/install.log" >&2
    echo "error: installing edzoo failed; the full log is $VENV/install.log" >&2
    exit 1
  fi
  touch "$stamp"
fi
export PATH="$VENV/bin:$PATH"
