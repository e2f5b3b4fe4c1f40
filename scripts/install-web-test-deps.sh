#!/usr/bin/env bash
# Installs what the browser test of the web page needs, when it is missing: headless Chromium
# and its WebDriver from Debian (chromium, chromium-driver), and Selenium from PyPI in a
# virtual environment of its own (.build/web-test-venv), so the system Python is left alone.
# Prints the Python to run the test with. Fails (non-zero) if anything cannot be installed:
# the browser test must run, not be skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
SELENIUM_VERSION=4.51.0
need=()
for pkg in chromium chromium-driver; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
# Debian's own python3 needs python3-venv for `python3 -m venv`; another python3 on PATH
# (pyenv, say) brings its own.
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}" >&2
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >&2
fi
for bin in /usr/bin/chromium /usr/bin/chromedriver; do
  [ -x "$bin" ] || { echo "install-web-test-deps: $bin is missing after installing chromium and chromium-driver" >&2; exit 1; }
done
venv=.build/web-test-venv
if ! "$venv/bin/python3" -c "import selenium, sys; sys.exit(selenium.__version__ != '$SELENIUM_VERSION')" >/dev/null 2>&1; then
  echo "installing selenium $SELENIUM_VERSION into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/python3" -m pip install -q --disable-pip-version-check "selenium==$SELENIUM_VERSION" >&2
fi
echo "$PWD/$venv/bin/python3"
