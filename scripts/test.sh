#!/usr/bin/env bash
# Runs every MemberSync test: installs missing system packages, builds, checks the installer
# against the debug build, then `swift test`.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
bash scripts/install-deps.sh
swift build
bash scripts/test-install.sh --bin-dir "$(swift build --show-bin-path)"
swift test "$@"
