#!/usr/bin/env bash
# The main job: builds MemberSync and runs the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
bash scripts/install-deps.sh
swift build --product model-demo
.build/debug/model-demo
