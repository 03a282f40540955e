#!/usr/bin/env bash
# `npm start`: install what is missing, build, start berthd (embedded defaults, or /etc/berth/config.toml when
# present; extra arguments go to berthd: npm start -- --log-level debug), then run a first pod with `berth demo`
# (a busybox image built from this host, no registry needed) and keep berthd in the foreground until Ctrl-C.
# Containers keep running after berthd stops, as with any runtime restart; `berth rmp --all` removes them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

socket=$(node dist/src/daemon/main.js --dry-run "$@" | sed -n '/^\[grpc\]/,/^\[/s/^address = "\(.*\)"$/\1/p' | head -n 1)
node dist/src/daemon/main.js --log-format text "$@" &
berthd=$!
trap 'kill -TERM "$berthd" 2>/dev/null || true' INT TERM

for _ in $(seq 1 100); do
  [ -S "$socket" ] && node dist/src/cli/main.js -a "$socket" version >/dev/null 2>&1 && break
  kill -0 "$berthd" 2>/dev/null || { wait "$berthd"; exit $?; }
  sleep 0.1
done
echo "berthd is serving on $socket (pid $berthd); running a first pod:" >&2
node dist/src/cli/main.js -a "$socket" demo || echo "berth demo failed; berthd keeps running" >&2
echo "berthd runs in the foreground: Ctrl-C stops it (containers keep running)." >&2
set +e
wait "$berthd"
status=$?
# A Ctrl-C interrupts the first wait; wait again for berthd's clean exit.
kill -0 "$berthd" 2>/dev/null && { wait "$berthd"; status=$?; }
exit "$status"
