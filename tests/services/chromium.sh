#!/usr/bin/env bash
# Make sure Debian's headless-capable Chromium is installed for the browser tests
# (tests/browser). Playwright drives it through executable_path; `playwright install` cannot
# download its own browsers on these machines. Idempotent, and quiet when it is there.
set -Eeuo pipefail

ME=$(basename "$0")
log() { echo "$ME: $*" >&2; }
die() { log "error: $*"; exit 1; }

if command -v chromium >/dev/null 2>&1; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    die "chromium is missing and there is no apt-get to install it; install Chromium and put it on PATH as 'chromium'"
fi
if [ "$(id -u)" -ne 0 ]; then
    die "chromium is missing; install it as root: apt-get install -y chromium"
fi

log "installing chromium (Debian package)"
apt-get update -qq >&2 || die "apt-get update failed"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null \
    || die "apt-get install chromium failed"
command -v chromium >/dev/null 2>&1 || die "chromium was installed but is not on PATH"
log "$(chromium --version 2>/dev/null | head -1)"
