#!/usr/bin/env bash
# Runs every MemberSync benchmark in release mode, each next to its baseline, and writes the
# results as Markdown and JSON with the machine and the date.
#
#   ./Benchmarks/run.sh                 full sizes; writes Benchmarks/RESULTS.md and results.json
#   ./Benchmarks/run.sh --quick         small sizes (smoke test); writes .build/bench-quick/
#   ./Benchmarks/run.sh --only merge,scale --size merge=200000 --out DIR
#
# Other arguments are passed to membersync-bench (see Benchmarks/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
command_line="./Benchmarks/run.sh${*:+ $*}"

quick=0
out=""
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1; args+=(--quick) ;;
    --out) out="$2"; shift ;;
    *) args+=("$1") ;;
  esac
  shift
done
if [ -z "$out" ]; then
  if [ "$quick" = 1 ]; then out=.build/bench-quick; else out=Benchmarks; fi
fi
mkdir -p "$out"

bash scripts/install-deps.sh
swift build -c release --product membersyncd
swift build -c release --product membersync-bench
swift build -c release --product membersync
bin=$(swift build -c release --show-bin-path)

# The merge baseline: pycrdt (Yrs) from PyPI in a private virtualenv (gitignored).
venv=.build-bench-venv
python_args=()
if ! "$venv/bin/python" -c "import pycrdt" >/dev/null 2>&1; then
  echo "installing pycrdt into $venv"
  python3 -m venv "$venv" >/dev/null 2>&1 && "$venv/bin/pip" install -q pycrdt || echo "warning: could not install pycrdt; the merge baseline is skipped" >&2
fi
if "$venv/bin/python" -c "import pycrdt" >/dev/null 2>&1; then
  python_args=(--python "$venv/bin/python" --pycrdt-script Benchmarks/pycrdt_merge.py)
fi

"$bin/membersync-bench" "${args[@]}" "${python_args[@]}" --bin-dir "$bin" \
  --json "$out/results.json" --markdown "$out/RESULTS.md" --command "$command_line" > /dev/null
echo "wrote $out/RESULTS.md and $out/results.json"
