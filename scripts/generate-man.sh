#!/usr/bin/env bash
# Regenerates the man pages of `membersync` (committed under Deploy/man/, one page per command)
# from the CLI's own definitions, with swift-argument-parser's generate-manual tool. Run it
# after adding or changing a command, option, flag or help text; scripts/test-install.sh fails
# while the committed pages are stale.
#
# Deploy/man/membersync.help.json is the CLI's description the pages were made from
# (`membersync --experimental-dump-help`): comparing it with the built CLI's is how the
# installer test tells that the pages are stale without the generator.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
swift build --product membersync >/dev/null
bin_dir="$(swift build --show-bin-path)"
tool="$bin_dir/generate-manual-tool"
if [ ! -x "$tool" ]; then
  # The tool is a target of swift-argument-parser reachable only through its plugin, which
  # builds it (and the package) before generating into .build/plugins.
  echo "building swift-argument-parser's generate-manual (once; a few minutes)"
  swift package plugin generate-manual >/dev/null
fi
out=Deploy/man
# The date the CLI last changed, so regenerating an unchanged CLI changes no page.
date="$(git log -1 --format=%cs -- Sources/membersync 2>/dev/null || true)"
[ -n "$date" ] || date="$(date -u +%F)"
rm -rf "$out"
mkdir -p "$out"
"$tool" "$bin_dir/membersync" --multi-page --date "$date" --output-directory "$out"
"$bin_dir/membersync" --experimental-dump-help > "$out/membersync.help.json"
echo "wrote $(ls "$out"/*.1 | wc -l) pages to $out"
