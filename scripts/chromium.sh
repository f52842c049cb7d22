#!/usr/bin/env bash
# Debian's Chromium for the console's browser tests (e2e/console_test.go drives it with chromedp),
# installed when missing, like Postgres and Redis: no browser download from elsewhere.
set -euo pipefail
[ -x /usr/bin/chromium ] && exit 0
echo "chromium: installing Debian's chromium for the browser tests" >&2
sudo=()
[ "$(id -u)" = 0 ] || sudo=(sudo)
"${sudo[@]}" apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq chromium >&2
