#!/usr/bin/env bash
# Make sure Debian's Chromium is present for the browser login test (tests/e2e/test_browser_login.py).
# Installs the Debian package with apt when missing (as root, or with password-less sudo); otherwise says what to do.
# Never downloads a browser build (no `playwright install`). With CI=true a missing browser is an error.
set -euo pipefail
CHROMIUM=/usr/bin/chromium

works() {
  [ -x "$CHROMIUM" ] && timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --version >/dev/null 2>&1
}

if works; then exit 0; fi

SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo -n"; fi
if { [ "$(id -u)" = 0 ] || [ -n "$SUDO" ]; } && command -v apt-get >/dev/null; then
  echo "installing Debian chromium for the browser test..."
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >/dev/null
  $SUDO apt-get install -y -qq chromium >/dev/null
  if works; then exit 0; fi
  echo "chromium was installed but '$CHROMIUM --version' fails" >&2
  exit 1
fi

echo "Chromium ($CHROMIUM) is missing; install it (e.g. 'sudo apt-get install chromium') to run the browser test." >&2
if [ "${CI:-}" = "true" ]; then exit 1; fi
exit 0
