# Shared set-up of scripts/demo, scripts/test and scripts/build_zoo: a venv in .venv with edzoo
# and its extras, the Debian packages the zoo's datasets are made from: handwriting fonts
# (letters), espeak-ng (spoken keywords) and wordnet-base (sentences), PostgreSQL (the tests
# start private clusters of it; the server itself needs it only where it is the index) and
# Chromium (the web catalog is tested in a real browser, driven by Playwright).
# Sourced, not run. Re-running is cheap: it only installs what is missing or changed.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${EDZOO_VENV:-$REPO/.venv}"
PY="${PYTHON:-python3}"
FONT_PACKAGES="fonts-breip fonts-bwht fonts-comic-neue fonts-dancingscript fonts-dkg-handwriting fonts-humor-sans fonts-rufscript"  # zoo/datasets/handwriting.py FONT_PACKAGES
DATA_PACKAGES="espeak-ng wordnet-base"  # zoo/datasets/speech.py, zoo/datasets/grammar.py
SERVICE_PACKAGES="postgresql chromium"  # tests/services.py; the web catalog's browser tests

missing=""
for pkg in $FONT_PACKAGES $DATA_PACKAGES $SERVICE_PACKAGES; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  echo "==> installing Debian packages:$missing" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing; } > /tmp/edzoo-apt.log 2>&1; then
    tail -20 /tmp/edzoo-apt.log >&2
    echo "error: could not install$missing (the zoo's datasets are made from them; the tests run PostgreSQL)" >&2
    exit 1
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating $VENV" >&2
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip > /dev/null
fi
stamp="$VENV/.edzoo-installed"
if [ ! -f "$stamp" ] || [ "$REPO/pyproject.toml" -nt "$stamp" ]; then
  echo "==> installing edzoo[server,zoo,dev] into $VENV (TensorFlow: about a minute the first time)" >&2
  if ! { "$VENV/bin/python" -m pip install -e "$REPO[server,zoo,dev]" &&
         "$VENV/bin/python" -m pip install --no-deps tf-keras==2.21.0 tensorflow-model-optimization==0.8.1; } \
       > "$VENV/install.log" 2>&1; then
    tail -30 "$VENV/install.log" >&2
    echo "error: installing edzoo failed; the full log is $VENV/install.log" >&2
    exit 1
  fi
  touch "$stamp"
fi
export PATH="$VENV/bin:$PATH"
