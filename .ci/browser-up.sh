#!/usr/bin/env bash
# Make Debian's Chromium available at /usr/bin/chromium for the browser test
# (tests/test_psychophysics_browser.py drives it through Playwright; `playwright install` is never
# used: it downloads browsers, and CI has no network for that).
#
#   bash .ci/browser-up.sh
#
# Installs the `chromium` package with apt-get only when /usr/bin/chromium is missing.
# Exit status: 0 ready; 1 the installation failed (its message on stderr); 2 cannot run here
# (not root, no apt-get, no package access) -- callers may skip on 2.
set -euo pipefail
BIN=/usr/bin/chromium
if [ -x "$BIN" ]; then
  "$BIN" --version 2>/dev/null || true
  exit 0
fi
[ "$(id -u)" = 0 ] || { echo "browser-up: $BIN is missing and installing it needs root" >&2; exit 2; }
command -v apt-get >/dev/null || { echo "browser-up: $BIN is missing and there is no apt-get to install it" >&2; exit 2; }
export DEBIAN_FRONTEND=noninteractive
echo "browser-up: apt-get install chromium"
apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null \
  || { echo "browser-up: apt-get update failed (no package access?)" >&2; exit 2; }
apt-cache show chromium >/dev/null 2>&1 \
  || { echo "browser-up: no chromium package in the configured apt sources" >&2; exit 2; }
apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null \
  || { echo "browser-up: apt-get install chromium failed" >&2; exit 1; }
[ -x "$BIN" ] || { echo "browser-up: chromium installed but $BIN is missing" >&2; exit 1; }
"$BIN" --version 2>/dev/null || true
