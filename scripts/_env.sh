# Shared set-up of scripts/demo, scripts/test and scripts/build_zoo: a venv in .venv with edzoo
# and its extras, the Debian packages the zoo's datasets are made from: handwriting fonts
# (letters), espeak-ng (spoken keywords) and wordnet-base (sentences), PostgreSQL (the tests
# start private clusters of it; the server itself needs it only where it is the index),
# Chromium (the web catalog is tested in a real browser, driven by Playwright), Node and npm
# (tuf-js, an independent TUF client, in tests/js) and faketime (clock tests).
# Sourced, not run. Re-running is cheap: it only installs what is missing or changed.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${EDZOO_VENV:-$REPO/.venv}"
PY="${PYTHON:-python3}"
FONT_PACKAGES="fonts-breip fonts-bwht fonts-comic-neue fonts-dancingscript fonts-dkg-handwriting fonts-humor-sans fonts-rufscript"  # zoo/datasets/handwriting/ FONT_PACKAGES
DATA_PACKAGES="espeak-ng wordnet-base"  # zoo/datasets/speech/, zoo/datasets/grammar/
SERVICE_PACKAGES="postgresql chromium"  # tests/services.py; the web catalog's browser tests
TEST_PACKAGES="faketime"  # clock tests
NODE_PACKAGES="nodejs npm"  # tests/js (tuf-js); skipped where node and npm already run (a Node build that bundles npm conflicts with Debian's npm)

missing=""
for pkg in $FONT_PACKAGES $DATA_PACKAGES $SERVICE_PACKAGES $TEST_PACKAGES; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done
{ command -v node && command -v npm; } > /dev/null 2>&1 || missing="$missing $NODE_PACKAGES"
if [ -n "$missing" ]; then
  echo "==> installing Debian packages:$missing" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing; } > /tmp/edzoo-apt.log 2>&1; then
    tail -20 /tmp/edzoo-apt.log >&2
    echo "error: could not install$missing (the zoo's datasets are made from them; the tests run PostgreSQL and Node)" >&2
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

# tuf-js for tests/test_interop.py, exactly as tests/js/package-lock.json pins it.
JS="$REPO/tests/js"
if [ ! -d "$JS/node_modules" ] || [ "$JS/package-lock.json" -nt "$JS/node_modules" ]; then
  echo "==> installing tests/js (tuf-js) with npm ci" >&2
  if ! npm ci --prefix "$JS" --no-audit --no-fund --loglevel=error > "$VENV/npm.log" 2>&1; then
    tail -20 "$VENV/npm.log" >&2
    echo "error: npm ci in tests/js failed (the interop tests run tuf-js); the full log is $VENV/npm.log" >&2
    exit 1
  fi
  touch "$JS/node_modules"
fi
export PATH="$VENV/bin:$PATH"
