#!/usr/bin/env bash
# Make sure Debian's Chromium is present for the browser login test (tests/e2e/test_browser_login.py).
# Installs it with apt when missing and we are root; otherwise says what to do. Never downloads a browser build.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian chromium for the browser test..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq chromium >/dev/null
  exit 0
fi
echo "Chromium (/usr/bin/chromium) is missing; install it (e.g. 'sudo apt-get install chromium') to run the browser test." >&2
[ "${CI:-}" = "true" ] && exit 1
exit 0
