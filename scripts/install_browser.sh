#!/usr/bin/env bash
# Debian's Chromium and ChromeDriver for the reports' headless-browser test
# (tests/test_report_render.py). Installs them where absent and apt-get can (root); otherwise
# says what to install and exits 0, and that test is skipped (CI sets MMM_REQUIRE_BROWSER=1,
# which makes it fail instead).
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    exit 0
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
    echo "installing Debian's chromium and chromium-driver for the headless-browser test"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null \
        || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }
else
    echo "note: chromium/chromedriver not found; the headless-browser report test will be skipped" \
         "(Debian/Ubuntu: sudo apt-get install chromium chromium-driver)"
fi
