#!/usr/bin/env bash
# Tests scripts/install.sh: installs into a temporary root and checks what landed there.
#
#   scripts/test-install.sh [--bin-dir DIR]
#
# With --bin-dir (CI passes the debug build) nothing is built; without it, install.sh builds
# release binaries first. Prints "N passed, N failed" and exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"

install_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --bin-dir) install_args+=(--bin-dir "$2"); shift 2 ;;
    *) echo "test-install.sh: unknown argument '$1'" >&2; exit 64 ;;
  esac
done

tmp="$(mktemp -d /tmp/msync-install-test.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0
check() { # DESCRIPTION COMMAND...
  local what="$1"; shift
  if "$@" >"$tmp/out" 2>&1; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL: $what" >&2
    sed 's/^/    /' "$tmp/out" >&2
  fi
}
mode_is() { [ "$(stat -c %a "$2")" = "$1" ] || { echo "$2 has mode $(stat -c %a "$2"), expected $1"; return 1; }; }
has_line() { grep -qxF -- "$2" "$1" || { echo "$1 lacks the line: $2"; return 1; }; }

root="$tmp/root"
echo "== install into $root"
bash scripts/install.sh --root "$root" --role member "${install_args[@]}" >"$tmp/install.log" 2>&1 || {
  cat "$tmp/install.log" >&2
  echo "0 passed, 1 failed"
  exit 1
}

bin="$root/usr/local/bin"
unit="$root/etc/systemd/system/membersyncd.service"
conf="$root/etc/membersync"

# Binaries: executable and runnable.
for b in membersyncd membersync; do
  check "$b is installed executable (0755)" mode_is 755 "$bin/$b"
done
check "membersyncd --version" bash -c "'$bin/membersyncd' --version | grep -qx 'membersyncd [0-9][0-9.]*'"
check "membersyncd --help exits 0 and documents --config" bash -c "'$bin/membersyncd' --help | grep -q -- '--config PATH'"
check "membersync --version" bash -c "'$bin/membersync' --version | grep -qx '[0-9][0-9.]*'"
check "membersync --help lists status" bash -c "'$bin/membersync' --help | grep -q 'status'"
check "membersync status --help documents exit codes" bash -c "'$bin/membersync' status --help | grep -q 'unreachable'"

# The unit: the fields the issue asks for, pointing at the installed binary.
check "unit installed 0644" mode_is 644 "$unit"
for line in \
  "ExecStart=/usr/local/bin/membersyncd --config /etc/membersync/membersync.toml" \
  "User=membersync" "Group=membersync" "StateDirectory=membersync" "ReadWritePaths=/var/lib/membersync" \
  "Restart=on-failure" "NoNewPrivileges=yes" "ProtectSystem=strict" "ProtectHome=yes" "PrivateTmp=yes" \
  "PrivateDevices=yes" "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6" "CapabilityBoundingSet=" \
  "WantedBy=multi-user.target"; do
  check "unit has $line" has_line "$unit" "$line"
done
check "unit's ExecStart binary exists in the root" test -x "$root$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$unit")"
stop_seconds="$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s\{0,1\}$/\1/p' "$unit")"
check "TimeoutStopSec is well above the ~1 s graceful stop" test "${stop_seconds:-0}" -ge 5
if command -v systemd-analyze >/dev/null; then
  # Only the unit's syntax: the membersync user and the /usr/local binary need not exist here.
  check "systemd-analyze finds no unknown directive" bash -c \
    "systemd-analyze verify '$unit' 2>&1 | grep -Ei 'unknown (key|section)|invalid|failed to parse' && exit 1 || exit 0"
fi

# Configs: examples and the --role member copy, readable only by root and the service group.
check "config dir 0750" mode_is 750 "$conf"
for f in examples/hub.toml examples/member.toml membersync.toml; do
  check "$f is 0640" mode_is 640 "$conf/$f"
  check "$f passes membersyncd --check-config" "$bin/membersyncd" --check-config --config "$conf/$f"
done
check "--role member installed the member example" cmp "$conf/membersync.toml" Deploy/config/member.toml
check "sysusers.d declares the membersync user" grep -q '^u membersync ' "$root/etc/sysusers.d/membersync.conf"
check "a broken config is refused with file and key named" bash -c \
  "printf 'node_id = \"x\"\nlisten = \"tcp://127.0.0.1:7400\"\nmetrics_listen = \"nowhere\"\n' > '$tmp/bad.toml'
   out=\$('$bin/membersyncd' --check-config --config '$tmp/bad.toml' 2>&1); rc=\$?
   [ \$rc -eq 78 ] && echo \"\$out\" | grep -q 'bad.toml' && echo \"\$out\" | grep -q 'metrics_listen'"

# Completions and docs.
check "bash completion" grep -q membersync "$root/usr/local/share/bash-completion/completions/membersync"
check "zsh completion" grep -q membersync "$root/usr/local/share/zsh/site-functions/_membersync"
check "fish completion" grep -q membersync "$root/usr/local/share/fish/vendor_completions.d/membersync.fish"
check "README installed" test -s "$root/usr/local/share/doc/membersync/README.md"

# Man pages: every committed page installed, readable by man, and made from this CLI.
man1="$root/usr/local/share/man/man1"
for page in Deploy/man/*.1; do
  check "man page $(basename "$page") installed 0644" mode_is 644 "$man1/$(basename "$page")"
done
check "membersync.1 is an mdoc page of section 1" grep -qx '.Dt MEMBERSYNC 1' "$man1/membersync.1"
check "man -l renders membersync init's page with its options" bash -c \
  "MANPAGER=cat MANWIDTH=100 man -l '$man1/membersync.init.1' 2>/dev/null | grep -q -- '--peer-key' \
   || groff -mandoc -Tutf8 '$man1/membersync.init.1' 2>/dev/null | grep -q -- '--peer-key'"
check "a page for every command of the CLI" bash -c \
  "for c in \$('$bin/membersync' --help | awk '/^SUBCOMMANDS:/ { on = 1; next } on && /^  [a-z]/ { print \$1 }'); do
     test -f '$man1/membersync.'\"\$c\".1 || { echo \"no page for membersync \$c\"; exit 1; }; done"
check "the committed man pages are current (else run scripts/generate-man.sh)" bash -c \
  "'$bin/membersync' --experimental-dump-help | cmp - Deploy/man/membersync.help.json"

# Reinstalling upgrades in place and keeps the edited config.
echo '# edited by the operator' >> "$conf/membersync.toml"
check "second install succeeds" bash scripts/install.sh --root "$root" --role hub "${install_args[@]}"
check "second install keeps the existing config" grep -q 'edited by the operator' "$conf/membersync.toml"

# Another prefix: the unit follows the binaries.
check "install with --prefix /opt/membersync" bash scripts/install.sh --root "$tmp/opt" --prefix /opt/membersync "${install_args[@]}"
check "unit points at the prefix" has_line "$tmp/opt/etc/systemd/system/membersyncd.service" \
  "ExecStart=/opt/membersync/bin/membersyncd --config /etc/membersync/membersync.toml"
check "no live config without --role" test ! -e "$tmp/opt/etc/membersync/membersync.toml"

echo "install-test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
