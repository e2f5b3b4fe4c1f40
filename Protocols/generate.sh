#!/usr/bin/env bash
# Regenerates Sources/MemberSyncWire/Generated/*.pb.swift from Protocols/*.proto.
# Needs protoc (Debian: protobuf-compiler) and protoc-gen-swift from swift-protobuf 1.39.0,
# which this script builds once into .build-protoc-gen-swift/ when it is not on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v protoc >/dev/null || { echo "generate.sh: protoc missing: apt-get install -y protobuf-compiler" >&2; exit 1; }
plugin=$(command -v protoc-gen-swift || true)
if [ -z "$plugin" ]; then
  scratch=.build-protoc-gen-swift
  if [ ! -x "$scratch/src/.build/release/protoc-gen-swift" ]; then
    rm -rf "$scratch/src"
    mkdir -p "$scratch"
    git clone -q --branch 1.39.0 https://github.com/apple/swift-protobuf "$scratch/src"
    (cd "$scratch/src" && swift build -c release --product protoc-gen-swift)
  fi
  plugin="$PWD/$scratch/src/.build/release/protoc-gen-swift"
fi
mkdir -p Sources/MemberSyncWire/Generated
protoc --plugin=protoc-gen-swift="$plugin" --proto_path=Protocols \
  --swift_out=Sources/MemberSyncWire/Generated --swift_opt=Visibility=Public Protocols/*.proto
echo "generated: $(ls Sources/MemberSyncWire/Generated)"
