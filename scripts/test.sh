#!/usr/bin/env bash
# Runs every MemberSync test: installs missing system packages, builds, then `swift test`.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
bash scripts/install-deps.sh
swift build
swift test "$@"
