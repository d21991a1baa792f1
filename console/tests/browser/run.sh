#!/usr/bin/env bash
# The approval console in a real browser (headless Debian Chromium driven by
# Selenium) against a real `warden serve`: part of `make test`. Screenshots go
# to target/console-screenshots, or where CONSOLE_SHOTS says
# (`make docs-screenshots`: docs/console). Needs /usr/bin/chromium and
# /usr/bin/chromedriver (`make deps` installs them).
set -euo pipefail
console_dir=$(cd "$(dirname "$0")" && pwd)
# The warden binary of this build (CARGO_TARGET_DIR moves it).
WARDEN_BIN="${WARDEN_BIN:-${CARGO_TARGET_DIR:-$(cd "$console_dir/../../.." && pwd)/target}/debug/warden}"
export WARDEN_BIN
source "$console_dir/../../../clients/python/env.sh"
if ! "$venv/bin/python" -c 'import selenium' 2>/dev/null; then
  "$venv/bin/pip" install -q selenium
fi
for exe in /usr/bin/chromium /usr/bin/chromedriver; do
  [ -x "$exe" ] || { echo "$exe is missing: run \`make deps\`" >&2; exit 1; }
done
export CONSOLE_SHOTS="${CONSOLE_SHOTS:-$repo/target/console-screenshots}"
# Selenium must not look for (or download) a driver of its own.
export SE_OFFLINE=true
cd "$console_dir"
PYTHONPATH="$repo/clients/python" exec "$venv/bin/python" test_console.py "$@"
