#!/usr/bin/env bash
# Runs a command on Node 24, the runtime the broker targets. When the `node` on PATH is older, the
# official Node 24 binary comes from npm's `node-linux-<arch>` package, installed once into the
# project-local .node/ folder (ignored by git) and put first on PATH for the command and its children.
#
# Usage: scripts/node24.sh COMMAND [ARG...]   run COMMAND with Node 24 first on PATH
#        scripts/node24.sh                     print the bin/ folder to put first on PATH
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# The same release as the image's base (Dockerfile, ARG NODE_IMAGE), so tests and image run one runtime.
version=24.22.3
major=${version%%.*}

fail() { echo "node24: $*" >&2; exit 1; }

current_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

bin_dir() {
  local on_path
  on_path=$(command -v node || true)
  if [ -n "$on_path" ] && [ "$(current_major "$on_path")" -ge "$major" ]; then
    dirname "$(readlink -f "$on_path")"
    return
  fi
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64) arch=arm64 ;;
    *) fail "no node-linux package for $(uname -m): install Node $major yourself" ;;
  esac
  local dir="$root/.node"
  local node="$dir/node_modules/node-linux-$arch/bin/node"
  if [ ! -x "$node" ] || [ "$("$node" --version)" != "v$version" ]; then
    command -v npm >/dev/null || fail "npm is missing: it fetches Node $version"
    local found=missing
    [ -z "$on_path" ] || found=$("$on_path" --version)
    echo "node24: installing Node $version into .node/ (the node on PATH: $found)" >&2
    # Into a fresh folder, then renamed into place: a concurrent or interrupted run never sees half of it.
    local staging
    staging=$(mktemp -d "$root/.node.XXXXXX")
    npm install --prefix "$staging" --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
      "node-linux-$arch@$version" >&2 || { rm -rf "$staging"; fail "npm install node-linux-$arch@$version failed"; }
    rm -rf "$dir"
    mv -T "$staging" "$dir" 2>/dev/null || rm -rf "$staging"
  fi
  dirname "$node"
}

dir=$(bin_dir)
if [ $# -eq 0 ]; then
  echo "$dir"
  exit 0
fi
export PATH="$dir:$PATH"
exec "$@"
