#!/usr/bin/env bash
# Generates TypeScript types and grpc-js service definitions from src/api/*.proto into src/api/gen/.
# The generated files are committed; `gen.sh --check` regenerates into a temp dir and fails if they differ
# (CI runs it, so stale generated code cannot land).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v protoc >/dev/null 2>&1; then
  echo "gen: protoc not found; install Debian's protobuf-compiler (scripts/setup.sh does)" >&2
  exit 1
fi
plugin=node_modules/.bin/protoc-gen-ts_proto
[ -x "$plugin" ] || { echo "gen: $plugin missing; run npm ci" >&2; exit 1; }

out=src/api/gen
if [ "${1:-}" = "--check" ]; then
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi
mkdir -p "$out"

# forceLong=bigint: CRI timestamps are int64 nanoseconds, beyond 2^53, so number would lose precision.
protoc \
  --plugin="protoc-gen-ts_proto=$plugin" \
  --ts_proto_out="$out" \
  --ts_proto_opt=outputServices=grpc-js,esModuleInterop=true,importSuffix=.js,forceLong=bigint,env=node,useDate=false,emitDefaultValues=json-methods,exportCommonSymbols=false,outputIndex=false \
  --proto_path=src/api \
  src/api/cri.proto src/api/admin.proto

if [ "${1:-}" = "--check" ]; then
  if ! diff -r -q "$out" src/api/gen >/dev/null; then
    diff -r -u src/api/gen "$out" | head -40 >&2 || true
    echo "gen: src/api/gen is stale: run npm run gen and commit the result" >&2
    exit 1
  fi
  echo "gen: src/api/gen is up to date"
fi
