#!/usr/bin/env bash
# `npm run bench`: runs the benchmarks against Berth and containerd 1.6 and appends the results to
# BENCHMARKS.md. Installs what is missing first (scripts/setup.sh: Debian packages, npm ci, build; and
# Debian's containerd, the reference daemon).
#   npm run bench -- [--only NAME] [--daemons berth,containerd] [--no-record] [--list]
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

if [ ! -x /usr/bin/containerd ]; then
  echo "bench: installing Debian's containerd (the reference daemon)" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq --no-install-recommends containerd >&2; then
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends containerd >&2
  fi
fi

exec node dist/bench/main.js "$@"
