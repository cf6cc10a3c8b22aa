#!/usr/bin/env bash
# How long the built image takes from start to serving, under the CPU the manifests give the sidecar:
# builds the image (image-build.sh), then starts it RUNS times with `podman run --cpus CPUS` on the file
# backend, as the pod runs it (non-root, read-only root, no network, the socket on a mounted volume),
# and times each run until GET /readyz answers 200 through the socket. Also reports the image size and
# the resident memory of the idle broker inside the container.
#
# "start" is the container's start as podman records it (.State.StartedAt: the process exists), so the
# figure leaves out podman's own set-up; "from podman run" includes it. The CPU time the container used
# until ready (its cgroup's cpuacct) is printed too: on a busy machine it varies far less than the wall
# clock, and under a CPU limit the wall clock follows it.
#
# Needs root, podman, runc, debootstrap and curl.
# Usage: scripts/image-start-time.sh [--runs N] [--cpus CPUS] [--no-build] [--image NAME] [--env K=V]... [--json]
#   --env adds an environment variable to the container (e.g. NODE_OPTIONS, to try a flag);
#   --json prints one JSON object on stdout instead of the lines for people.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
podman=(podman --runtime runc --cgroup-manager cgroupfs)
limits=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
runs=5
cpus=0.1
build=true
json=false
extra_env=()
image=localhost/secrets-broker:start-time
uid=10001

fail() { echo "image-start-time: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --cpus) cpus=$2; shift 2 ;;
    --no-build) build=false; shift ;;
    --image) image=$2; shift 2 ;;
    --env) extra_env+=(--env "$2"); shift 2 ;;
    --json) json=true; shift ;;
    *) fail "unknown argument $1 (see the usage at the top of this script)" ;;
  esac
done
for tool in podman runc curl; do command -v "$tool" >/dev/null || fail "$tool is missing"; done
[ "$(id -u)" -eq 0 ] || fail "run as root: rootful podman runs the image"

if $build; then bash "$root/scripts/image-build.sh" "$image" >/dev/null; fi

work=$(mktemp -d)
name="secrets-broker-start-time-$$"
cleanup() {
  "${podman[@]}" rm --force --time 0 "$name" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# Starts one container; sets $from_run_ms, $from_start_ms and $cpu_ms; leaves the container running.
start_once() {
  rm -rf "$work/socket"
  mkdir -p "$work/socket"
  chown "$uid:$uid" "$work/socket"
  local before after started_ns
  before=$(now_ms)
  "${podman[@]}" run --detach --name "$name" "${limits[@]}" --cpus "$cpus" \
    --read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges --network none \
    --volume "$work/socket:/run/secrets-broker" \
    --env SECRETS_BROKER_BACKEND=file --env SECRETS_BROKER_FILE_DIR=/run/secrets-broker/store "${extra_env[@]}" \
    "$image" >/dev/null
  local deadline=$((before + 120000))
  until [ "$(curl --silent --max-time 2 --unix-socket "$work/socket/broker.sock" --output /dev/null \
    --write-out '%{http_code}' http://broker/readyz 2>/dev/null)" = 200 ]; do
    [ "$(now_ms)" -lt "$deadline" ] || { "${podman[@]}" logs "$name" >&2; fail "not ready after 120 s"; }
    [ "$("${podman[@]}" inspect --format '{{.State.Running}}' "$name")" = true ] ||
      { "${podman[@]}" logs "$name" >&2; fail "the broker exited before serving"; }
    sleep 0.05
  done
  after=$(now_ms)
  cpu_ms=$(cpu_used_ms)
  started_ns=$("${podman[@]}" inspect --format '{{.State.StartedAt.UnixNano}}' "$name")
  from_run_ms=$((after - before))
  from_start_ms=$((after - started_ns / 1000000))
}

# CPU time of every process in the container so far (cgroup v1 cpuacct, or v2 cpu.stat).
cpu_used_ms() {
  local cgroup
  cgroup=$("${podman[@]}" inspect --format '{{.State.CgroupPath}}' "$name")
  if [ -r "/sys/fs/cgroup/cpuacct$cgroup/cpuacct.usage" ]; then
    echo $(($(cat "/sys/fs/cgroup/cpuacct$cgroup/cpuacct.usage") / 1000000))
  elif [ -r "/sys/fs/cgroup$cgroup/cpu.stat" ]; then
    echo $(($(awk '$1 == "usage_usec" { print $2 }' "/sys/fs/cgroup$cgroup/cpu.stat") / 1000))
  else
    echo null
  fi
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

starts=()
runs_from_podman=()
cpus_used=()
rss_kib=
for i in $(seq 1 "$runs"); do
  start_once
  starts+=("$from_start_ms")
  runs_from_podman+=("$from_run_ms")
  cpus_used+=("$cpu_ms")
  $json || echo "run $i: ready ${from_start_ms} ms after start (${from_run_ms} ms after podman run), ${cpu_ms} ms of CPU" >&2
  if [ "$i" = 1 ]; then
    # Idle: a few seconds after ready, with nothing asked of it.
    sleep 5
    rss_kib=$("${podman[@]}" exec "$name" awk '/^VmRSS:/ { print $2 }' /proc/1/status)
  fi
  "${podman[@]}" rm --force --time 0 "$name" >/dev/null
done

median_start=$(printf '%s\n' "${starts[@]}" | median)
median_run=$(printf '%s\n' "${runs_from_podman[@]}" | median)
median_cpu=$(printf '%s\n' "${cpus_used[@]}" | median)
size_bytes=$("${podman[@]}" image inspect --format '{{.Size}}' "$image")
if $json; then
  printf '{"image":"%s","cpus":%s,"runs":%s,"readyAfterStartMs":[%s],"medianReadyAfterStartMs":%s,' \
    "$image" "$cpus" "$runs" "$(IFS=,; echo "${starts[*]}")" "$median_start"
  printf '"medianReadyAfterPodmanRunMs":%s,"medianCpuToReadyMs":%s,"imageBytes":%s,"idleRssKiB":%s}\n' \
    "$median_run" "$median_cpu" "$size_bytes" "$rss_kib"
else
  echo "spawn to /readyz 200 under --cpus $cpus: median ${median_start} ms over $runs runs (${starts[*]}); from podman run: ${median_run} ms"
  echo "CPU time to ready: median ${median_cpu} ms"
  echo "image size: $((size_bytes / 1000000)) MB"
  echo "idle RSS in the container: $((rss_kib / 1024)) MiB"
fi
