#!/usr/bin/env bash
# Regenerates the shell completion scripts for `membersync` (committed under
# Deploy/completions/) from the CLI's own argument definitions. Run it after adding or changing
# a command, option or flag.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
swift build --product membersync >/dev/null
bin="$(swift build --show-bin-path)/membersync"
out=Deploy/completions
mkdir -p "$out"
"$bin" --generate-completion-script bash > "$out/membersync.bash"
"$bin" --generate-completion-script zsh > "$out/_membersync"
"$bin" --generate-completion-script fish > "$out/membersync.fish"
echo "wrote $out/membersync.bash, $out/_membersync, $out/membersync.fish"
