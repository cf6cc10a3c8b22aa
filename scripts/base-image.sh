#!/usr/bin/env bash
# Assembles a local stand-in for the Dockerfile's base image (its NODE_IMAGE default, e.g.
# node:24.22.3-bookworm-slim) where no registry of container images can be reached: a Debian
# bookworm minbase root from debootstrap plus the project's Node 24 (scripts/node24.sh: the one on PATH
# when it is 24 or newer, else the one fetched into .node/) and this machine's npm, laid out as the
# official image lays them out (/usr/local/bin/node, user `node` 1000:1000), imported into podman
# under the very name the Dockerfile pulls, so that `podman build --pull=never` uses it.
#
# The image is rebuilt only when its inputs change (this script, the Node binary, npm, the name):
# their digest is stored as a label and compared first. Prints the image name on stdout.
#
# Usage: scripts/base-image.sh [--force]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
podman_flags=(--runtime runc --cgroup-manager cgroupfs)
label=io.secrets-broker.standin-inputs

fail() { echo "base-image: $*" >&2; exit 1; }

for tool in podman debootstrap npm; do
  command -v "$tool" >/dev/null || fail "$tool is missing (apt-get install -y podman runc debootstrap npm)"
done

# The name comes from the Dockerfile itself so that the two cannot disagree.
image=$(sed -n 's/^ARG NODE_IMAGE=\(.*\)$/\1/p' "$root/Dockerfile" | head -n1)
[ -n "$image" ] || fail "no 'ARG NODE_IMAGE=' default in Dockerfile"
case "$image" in */*) full="$image" ;; *) full="docker.io/library/$image" ;; esac

node_bin=$(readlink -f "$(bash "$root/scripts/node24.sh")/node")
npm_dir=$(cd "$(dirname "$(readlink -f "$(command -v npm)")")/.." && pwd)
host_node=$("$node_bin" --version)
wanted_node=$(printf '%s\n' "$image" | sed -n 's/^[^:]*:\([0-9][0-9.]*\).*/\1/p')
# A stand-in with another major version would test a runtime the image does not ship.
host_version=${host_node#v}
[ "${host_version%%.*}" = "${wanted_node%%.*}" ] ||
  fail "this machine has Node $host_node; the Dockerfile wants $wanted_node (another major version)"
[ "$host_version" = "$wanted_node" ] || echo "base-image: note: the stand-in carries Node $host_node for $image" >&2

inputs=$( { sha256sum "$0" "$node_bin" | cut -d' ' -f1; cat "$npm_dir/package.json"; echo "$full"; } | sha256sum | cut -d' ' -f1)
current=$(podman "${podman_flags[@]}" image inspect --format "{{ index .Labels \"$label\" }}" "$full" 2>/dev/null || true)
if [ "${1:-}" != "--force" ] && [ "$current" = "$inputs" ]; then
  echo "$full"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"
echo "base-image: debootstrap bookworm minbase (a few minutes on a cold machine)" >&2
# The mirror this machine's apt already uses, so the stand-in comes from the same archive.
mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$mirror" ] || fail "no Debian mirror found in this machine's apt sources"
debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
  { tail -n 20 "$work/debootstrap.log" >&2; fail "debootstrap failed"; }

install -D -m 0755 "$node_bin" "$rootfs/usr/local/bin/node"
mkdir -p "$rootfs/usr/local/lib/node_modules"
cp -a "$npm_dir" "$rootfs/usr/local/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
chroot "$rootfs" /usr/sbin/groupadd --gid 1000 node
chroot "$rootfs" /usr/sbin/useradd --uid 1000 --gid node --shell /bin/bash --create-home node
# What the slim image leaves out as well: package caches, docs, manuals.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/*

tar --numeric-owner -C "$rootfs" -cf "$work/rootfs.tar" .
previous=$(podman "${podman_flags[@]}" image inspect --format '{{.Id}}' "$full" 2>/dev/null || true)
podman "${podman_flags[@]}" import \
  --change 'CMD ["node"]' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "LABEL $label=$inputs" \
  "$work/rootfs.tar" "$full" >"$work/import.log" 2>&1 || { cat "$work/import.log" >&2; fail "podman import failed"; }
# The stand-in it replaces is now untagged: drop it rather than pile up a few hundred MB per change.
[ -z "$previous" ] || podman "${podman_flags[@]}" rmi "$previous" >/dev/null 2>&1 || true
echo "$full"
