#!/usr/bin/env bash
# `npm test`: install what is missing, build, check generated code (src/api/gen, docs/config-reference.md) and
# lint, then run every unit and integration test (integration tests start real berthd, docker-registry, runc,
# conmon and CNI; run as root).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/gen.sh --check
node dist/scripts/gen-config-reference.js --check
npm run --silent lint

mapfile -t unit < <(find dist/test/unit -name '*.test.js' 2>/dev/null | sort)
mapfile -t integration < <(find dist/test/integration -name '*.test.js' 2>/dev/null | sort)
if [ "$(id -u)" -ne 0 ]; then
  echo "test: integration tests need root (namespaces, mounts, runc); running unit tests only" >&2
  integration=()
fi
exec node --test --test-reporter=spec "${unit[@]}" "${integration[@]}"
