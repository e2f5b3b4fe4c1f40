#!/usr/bin/env bash
# Runs every MemberSync test: installs missing system packages (and the browser test's
# Chromium and Selenium), builds, checks the installer
# against the debug build, runs `swift test`, then a bounded chaos run (real daemons under
# faults; see scripts/chaos.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
bash scripts/install-deps.sh
# Chromium, chromium-driver and Selenium for the web page's browser test (WebPageTests).
bash scripts/install-web-test-deps.sh >/dev/null
swift build
bash scripts/test-install.sh --bin-dir "$(swift build --show-bin-path)"
swift test "$@"
if [ $# -eq 0 ]; then
  echo "== chaos run (bounded; replay a failure with ./scripts/chaos.sh --seed N)"
  "$(swift build --show-bin-path)/membersync-chaos" --duration "${MEMBERSYNC_CHAOS_SECONDS:-45}"
fi
