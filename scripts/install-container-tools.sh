#!/usr/bin/env bash
# Installs what the container test needs (podman with runc, debootstrap for the stand-in base image)
# from Debian's packages, when missing and when running as root. Idempotent.
set -euo pipefail
needed=()
command -v podman >/dev/null 2>&1 || needed+=(podman)
command -v runc >/dev/null 2>&1 || needed+=(runc)
command -v debootstrap >/dev/null 2>&1 || needed+=(debootstrap)
if [ ${#needed[@]} -eq 0 ]; then
  echo "container tools present: $(podman --version)"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "container tools missing (${needed[*]}) and not root: install them with apt-get" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${needed[@]}" >/dev/null
echo "installed: ${needed[*]}"
