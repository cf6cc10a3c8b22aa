#!/usr/bin/env bash
# Builds the image from the real Dockerfile with podman and runs it the way a pod runs the sidecar:
# its own non-root user, a read-only root filesystem, no capabilities, no network, the socket on a
# mounted volume. Then drives a CRUD session through that socket from outside the container, and
# checks that SIGTERM ends it with exit code 0 and an unlinked socket.
#
# Needs root, podman, runc, debootstrap (for the stand-in base image, see base-image.sh) and curl.
# The build (image-build.sh) runs `npm ci`, so it reaches the npm registry.
# Prints one "ok - ..." line per check and ends with "container test: ok"; exit code 0 only then.
#
# Usage: scripts/container-test.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# crun fails on this kernel's cgroup layout and raising rlimits is refused: hence these flags.
podman=(podman --runtime runc --cgroup-manager cgroupfs)
limits=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
image=localhost/secrets-broker:container-test
name="secrets-broker-container-test-$$"
uid=10001

fail() { echo "not ok - $*" >&2; exit 1; }
ok() { echo "ok - $*"; }

for tool in podman runc debootstrap curl; do
  command -v "$tool" >/dev/null || fail "$tool is missing: apt-get install -y podman runc debootstrap curl"
done
[ "$(id -u)" -eq 0 ] || fail "run as root: rootful podman builds and runs the image"

work=$(mktemp -d)
cleanup() {
  "${podman[@]}" rm --force --time 0 "$name" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# --- the image -----------------------------------------------------------------------------------
bash "$root/scripts/image-build.sh" "$image" >/dev/null || fail "podman build"
ok "built $image from the Dockerfile"

[ "$("${podman[@]}" image inspect --format '{{.Config.User}}' "$image")" = "$uid:$uid" ] || fail "image user is not $uid:$uid"
"${podman[@]}" image inspect --format '{{json .Config.Entrypoint}}' "$image" | grep -q '"serve"' ||
  fail "the entrypoint is not the serve command"
"${podman[@]}" image inspect --format '{{json .Config.Env}}' "$image" |
  grep -q 'SECRETS_BROKER_SOCKET=/run/secrets-broker/broker.sock' || fail "SECRETS_BROKER_SOCKET is not set"
ok "image: user $uid:$uid, entrypoint serve, SECRETS_BROKER_SOCKET set"
# The bundle carries what it uses: no node_modules, no sources, no development tools.
extra=$("${podman[@]}" run --rm "${limits[@]}" --network none --entrypoint sh "$image" -c \
  'find /app -name node_modules -o -name "*.ts" | head -n 3')
[ -z "$extra" ] || fail "the image carries more than the bundle: $extra"
"${podman[@]}" run --rm "${limits[@]}" --network none --entrypoint sh "$image" -c \
  'ls "$NODE_COMPILE_CACHE"/*-10001/ | grep -q .' || fail "no compile cache for user $uid in the image"
ok "the bundle and its compile cache only (no node_modules)"
# A start must find every module it loads in the cache: code compiled under other V8 flags is refused.
cache=$("${podman[@]}" run --rm "${limits[@]}" --network none --read-only --tmpfs /tmp --entrypoint sh \
  --env NODE_DEBUG_NATIVE=COMPILE_CACHE --env SECRETS_BROKER_SOCKET=/tmp/b.sock --env SECRETS_BROKER_FILE_DIR=/tmp/store \
  --env SECRETS_BROKER_TOKEN_FILE=/tmp/token --env SECRETS_BROKER_LOCK_DIR=/tmp/locks "$image" -c \
  'timeout 5 node /app/dist/main.js serve 2>&1 | grep -o "was accepted\|was rejected\|was not initialized" | sort | uniq -c' || true)
echo "$cache" | grep -q "was accepted" || fail "serve took nothing from the compile cache: $cache"
if echo "$cache" | grep -q "rejected\|not initialized"; then fail "serve compiled modules the cache should hold: $cache"; fi
ok "serve loads every module from the compile cache ($(echo "$cache" | awk '/accepted/ {print $1}') modules)"
injected=$("${podman[@]}" run --rm -i "${limits[@]}" --network none --read-only --entrypoint node "$image" \
  /app/dist/main.js inject --backend aws <"$root/test/kube/fixtures/workloads.yaml" | grep -c 'name: secrets-broker$' || true)
[ "$injected" -gt 0 ] || fail "inject through the image added no sidecar"
ok "inject runs from the image (the Kubernetes client's chunk loads): $injected sidecars"

# --- the run -------------------------------------------------------------------------------------
mkdir -p "$work/socket" "$work/store"
chown "$uid:$uid" "$work/socket" "$work/store"
chmod 0750 "$work/socket" "$work/store"
"${podman[@]}" run --detach --name "$name" "${limits[@]}" \
  --read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges --network none \
  --volume "$work/socket:/run/secrets-broker" --volume "$work/store:/var/lib/secrets-broker" \
  --env SECRETS_BROKER_BACKEND=file --env SECRETS_BROKER_FILE_DIR=/var/lib/secrets-broker/store \
  "$image" >/dev/null

socket="$work/socket/broker.sock"
for _ in $(seq 1 120); do
  [ -S "$socket" ] && [ -s "$work/socket/token" ] && break
  [ "$("${podman[@]}" inspect --format '{{.State.Running}}' "$name")" = true ] ||
    { "${podman[@]}" logs "$name" >&2; fail "the broker exited before serving"; }
  sleep 0.5
done
[ -S "$socket" ] || { "${podman[@]}" logs "$name" >&2; fail "no socket after 60 s"; }
ok "serving on a socket in the mounted volume"

[ "$("${podman[@]}" exec "$name" id -u)" = "$uid" ] || fail "the process is not user $uid"
[ "$("${podman[@]}" inspect --format '{{.HostConfig.ReadonlyRootfs}}' "$name")" = true ] || fail "root is writable"
if "${podman[@]}" exec "$name" sh -c ': > /probe' 2>/dev/null; then fail "could write to /"; fi
[ "$(stat -c %a "$socket")" = 660 ] || fail "socket mode $(stat -c %a "$socket"), expected 660"
[ "$(stat -c %a "$work/socket/token")" = 640 ] || fail "token mode $(stat -c %a "$work/socket/token"), expected 640"
ok "runs as $uid with a read-only root; socket 0660, token 0640"

token=$(cat "$work/socket/token")
# One request; prints the status code and leaves the body in $work/body.
call() {
  local method=$1 url=$2
  shift 2
  curl --silent --show-error --max-time 10 --unix-socket "$socket" --output "$work/body" --write-out '%{http_code}' \
    --request "$method" -H "Authorization: Bearer $token" "$@" "http://broker$url"
}
expect() {
  local want=$1 got=$2 what=$3
  [ "$got" = "$want" ] || { cat "$work/body" >&2; echo >&2; fail "$what: status $got, expected $want"; }
  ok "$what: $got"
}

expect 201 "$(call POST /secrets -H 'Content-Type: application/json' -d '{"id":"container-test/db","value":"first"}')" "create"
expect 200 "$(call GET /secrets/container-test/db)" "read"
grep -q '"value":"first"' "$work/body" || fail "read returned another value"
etag=$(grep -o '"version":"[^"]*"' "$work/body" | head -n1 | cut -d'"' -f4)
expect 200 "$(call PUT /secrets/container-test/db -H 'Content-Type: application/json' -H "If-Match: \"$etag\"" \
  -d '{"value":"second"}')" "conditional update"
expect 200 "$(call GET /secrets/container-test/db -H 'Cache-Control: no-cache')" "read the update"
grep -q '"value":"second"' "$work/body" || fail "the update was not read back"
expect 200 "$(call GET '/secrets?filter=%5Econtainer-test%2F')" "list"
grep -q '"container-test/db"' "$work/body" || fail "the list misses the secret"
if grep -q '"value"' "$work/body"; then fail "the list carries values"; fi
expect 204 "$(call DELETE '/secrets/container-test/db?force=true')" "delete"
expect 404 "$(call GET /secrets/container-test/db)" "read after delete"
expect 200 "$(call GET /openapi.json)" "the OpenAPI document"
grep -q '"openapi"' "$work/body" || fail "/openapi.json is not an OpenAPI document"
expect 401 "$(curl --silent --max-time 10 --unix-socket "$socket" --output "$work/body" --write-out '%{http_code}' \
  http://broker/secrets/container-test/db)" "no token"

"${podman[@]}" kill --signal TERM "$name" >/dev/null
status=$(timeout 60 "${podman[@]}" wait "$name") || fail "still running 60 s after SIGTERM"
[ "$status" = 0 ] || { "${podman[@]}" logs "$name" >&2; fail "exit code $status after SIGTERM"; }
[ ! -e "$socket" ] || fail "the socket is still there after shutdown"
ok "SIGTERM: exit code 0, socket unlinked"
echo "container test: ok"
