#!/usr/bin/env bash
# Make sure Debian's Chromium is installed: tests/report_html opens the HTML report in it
# (headless, driven by Playwright) instead of downloading a browser of its own.
set -u

CHROMIUM=/usr/bin/chromium
if [ -x "$CHROMIUM" ]; then
    echo "browser: $($CHROMIUM --version 2>/dev/null || echo chromium) is installed"
    exit 0
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "browser: installing Debian's chromium package"
    # Package lists of a fresh image may be missing or stale.
    DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >/dev/null \
        || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >/dev/null; }
fi
if [ -x "$CHROMIUM" ]; then
    echo "browser: installed $($CHROMIUM --version 2>/dev/null || echo chromium)"
    exit 0
fi
# Not fatal here: the browser test then skips, or fails when CI is set.
echo "browser: $CHROMIUM is missing and could not be installed (apt-get install chromium as root)" >&2
exit 0
