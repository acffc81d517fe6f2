#!/usr/bin/env bash
# Installs what the viewer page's browser test (tests/ui_browser.rs) drives, when missing:
# Debian's Chromium (/usr/bin/chromium) and tests/ui's npm packages (playwright-core, pinned
# in tests/ui/package-lock.json; it downloads no browser of its own). Idempotent: does nothing
# when both are there. The test itself talks to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" -eq 0 ]; then
        SUDO=""
    elif command -v sudo >/dev/null 2>&1; then
        SUDO="sudo -n"
    else
        echo "install-browser.sh: need chromium but not root (cannot apt-get install)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    if ! $SUDO apt-get install -y --no-install-recommends chromium >&2; then
        $SUDO apt-get update >&2
        $SUDO apt-get install -y --no-install-recommends chromium >&2
    fi
fi

if ! command -v npm >/dev/null 2>&1; then
    echo "install-browser.sh: need node and npm (Debian's nodejs and npm packages) for tests/ui" >&2
    exit 1
fi

# `npm ci` only when the installed tree is not the locked one (npm writes its own copy of the
# lock into node_modules/.package-lock.json).
lock=tests/ui/package-lock.json
installed=tests/ui/node_modules/.package-lock.json
if [ ! -f "$installed" ] || [ ! -d tests/ui/node_modules/playwright-core ] \
    || ! node -e '
        const fs = require("fs");
        const want = JSON.parse(fs.readFileSync(process.argv[1])).packages;
        const have = JSON.parse(fs.readFileSync(process.argv[2])).packages;
        for (const [k, v] of Object.entries(want)) {
            if (k === "") continue;
            if (!have[k] || have[k].version !== v.version) process.exit(1);
        }' "$lock" "$installed"; then
    (cd tests/ui && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund >&2)
fi

echo "browser: $(/usr/bin/chromium --version 2>/dev/null | head -1), playwright-core $(node -p 'require("./tests/ui/node_modules/playwright-core/package.json").version')"
