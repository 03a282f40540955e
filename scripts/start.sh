#!/usr/bin/env bash
# `npm start`: install what is missing, build, and run berthd in the foreground with its embedded defaults
# (or /etc/berth/config.toml when present). Extra arguments go to berthd: npm start -- --log-level debug
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node dist/src/daemon/main.js "$@"
