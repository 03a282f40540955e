#!/usr/bin/env bash
# Installs what Berth needs, if missing, on Debian 12 as root: the runtime's Debian packages, build tools
# for better-sqlite3, `npm ci`, and the TypeScript build. Idempotent and quiet when nothing is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# runc/crun: OCI runtimes; conmon: per-container monitor; containernetworking-plugins: CNI; iptables: portmap;
# busybox-static: demo and test images; docker-registry: the tests' local registry; protobuf-compiler: npm run gen;
# util-linux: unshare/nsenter; python3/make/g++: better-sqlite3 compiles from source; zstd, umoci, skopeo:
# the tests make zstd layers, compare unpacked rootfs with umoci and check archives with skopeo; catatonit: the
# init of a pod's shared PID namespace; socat: port-forward's dialer inside a pod's network namespace; openssl: the
# stream server's self-signed certificate; zsh, fish: the completion tests load `berth completion zsh|fish` in them.
PACKAGES=(runc crun conmon socat openssl containernetworking-plugins iptables busybox-static docker-registry protobuf-compiler
  util-linux python3 make g++ zstd umoci skopeo catatonit zsh fish)

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing Debian packages (${missing[*]}); run as root to install them" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# npm ci when node_modules is missing or older than the lockfile.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund >&2
fi

npm run --silent build >&2
