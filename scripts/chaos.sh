#!/usr/bin/env bash
# Runs the chaos test: a hub and four members as real processes, a seeded concurrent
# workload, and random faults (SIGKILL + restart, SIGSTOP/SIGCONT, hub down, partitions,
# a slowed subscriber); then checks convergence, acknowledged writes, conflicts and databases.
#   ./scripts/chaos.sh [--seed N] [--duration SECONDS] [--members N] [--writers-per-member N] [--keep]
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
bash scripts/install-deps.sh
swift build --product membersyncd >/dev/null
swift build --product membersync >/dev/null
swift build --product membersync-chaos >/dev/null
exec "$(swift build --show-bin-path)/membersync-chaos" "$@"
