#!/usr/bin/env bash
# Installs the system libraries MemberSync builds against, when they are missing.
set -euo pipefail
need=()
# binutils: nm, with which a test checks what the CLI links.
for pkg in libzmq3-dev libsqlite3-dev libsodium-dev pkg-config binutils; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
if ! command -v swift >/dev/null 2>&1; then
  if [ -x /opt/swift/usr/bin/swift ]; then
    echo "note: add /opt/swift/usr/bin to PATH" >&2
  else
    echo "install-deps: no Swift toolchain found (Swift 6 is required)" >&2
    exit 1
  fi
fi
