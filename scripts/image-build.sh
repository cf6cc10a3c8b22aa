#!/usr/bin/env bash
# Builds the image from the real Dockerfile with podman, on the stand-in base image (base-image.sh),
# and prints its name on stdout. The build's `npm ci` reaches the npm registry over the host network,
# with this machine's CA bundle handed to it read-only; the image itself keeps Node's own roots.
# The image it replaces under the same tag is removed, so repeated builds do not pile up.
#
# Needs root, podman, runc and debootstrap.
# Usage: scripts/image-build.sh [TAG]   (default localhost/secrets-broker:dev)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# crun fails on this kernel's cgroup layout and raising rlimits is refused: hence these flags.
podman=(podman --runtime runc --cgroup-manager cgroupfs)
limits=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
image=${1:-localhost/secrets-broker:dev}

fail() { echo "image-build: $*" >&2; exit 1; }

bash "$root/scripts/base-image.sh" >/dev/null

ca_args=()
ca=${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}
if [ -f "$ca" ]; then
  ca_args=(--volume "$ca:/etc/ssl/build-ca.pem:ro" --build-arg NODE_EXTRA_CA_CERTS=/etc/ssl/build-ca.pem)
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
previous=$("${podman[@]}" image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
"${podman[@]}" build --pull=never --network host "${limits[@]}" "${ca_args[@]}" \
  --file "$root/Dockerfile" --tag "$image" "$root" >"$log" 2>&1 ||
  { tail -n 40 "$log" >&2; fail "podman build failed"; }
current=$("${podman[@]}" image inspect --format '{{.Id}}' "$image")
[ -z "$previous" ] || [ "$previous" = "$current" ] || "${podman[@]}" rmi "$previous" >/dev/null 2>&1 || true
echo "$image"
