#!/usr/bin/env bash
# A local Vault dev server for trying the broker's vault backend and running the real-Vault suite.
# Needs the `vault` binary on the PATH (HashiCorp's release); nothing here installs it.
#
#   bash scripts/vault-dev.sh start   # vault server -dev on 127.0.0.1:$VAULT_DEV_PORT (8200), root token below
#   bash scripts/vault-dev.sh seed    # the documented policy for `secret/` and a broker token; prints env lines
#   bash scripts/vault-dev.sh test    # start, run test/vault-real/ against it, stop (one command)
#   bash scripts/vault-dev.sh stop
#
# A dev server keeps everything in memory, unsealed, with KV v2 at `secret/`: for tests only.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
port=${VAULT_DEV_PORT:-8200}
token=${VAULT_DEV_ROOT_TOKEN:-broker-dev-root}
state=${TMPDIR:-/tmp}/secrets-broker-vault-dev-$port
export VAULT_ADDR="http://127.0.0.1:$port"

need_vault() {
  if ! command -v vault >/dev/null 2>&1; then
    echo "vault-dev: no 'vault' binary on the PATH; install Vault, or point VAULT_ADDR at a running one" >&2
    exit 1
  fi
}

running() {
  [ -f "$state/vault.pid" ] && kill -0 "$(cat "$state/vault.pid")" 2>/dev/null
}

start() {
  need_vault
  if running; then
    echo "vault-dev: already running at $VAULT_ADDR (pid $(cat "$state/vault.pid"))"
    return
  fi
  mkdir -p "$state"
  vault server -dev -dev-root-token-id="$token" -dev-listen-address="127.0.0.1:$port" >"$state/vault.log" 2>&1 &
  echo $! >"$state/vault.pid"
  # `vault status` exits 0 once the server answers and is unsealed; give it up to 30 s.
  for _ in $(seq 1 60); do
    if VAULT_TOKEN="$token" vault status >/dev/null 2>&1; then
      echo "vault-dev: running at $VAULT_ADDR, root token '$token' (log: $state/vault.log)"
      return
    fi
    if ! running; then
      echo "vault-dev: vault exited; see $state/vault.log" >&2
      exit 1
    fi
    sleep 0.5
  done
  echo "vault-dev: vault did not become ready; see $state/vault.log" >&2
  stop
  exit 1
}

stop() {
  if running; then
    kill "$(cat "$state/vault.pid")"
    echo "vault-dev: stopped"
  fi
  rm -f "$state/vault.pid"
}

seed() {
  need_vault
  mkdir -p "$state"
  # The first hcl block of the README (its Vault section) is the policy the broker needs.
  awk '/^```hcl$/{inside=1; next} /^```$/{if (inside) exit} inside' "$root/README.md" >"$state/secrets-broker.hcl"
  VAULT_TOKEN="$token" vault policy write secrets-broker "$state/secrets-broker.hcl" >/dev/null
  broker_token=$(VAULT_TOKEN="$token" vault token create -policy=secrets-broker -ttl=1h -field=token)
  echo "vault-dev: policy 'secrets-broker' written; run the broker against it with:"
  echo "export SECRETS_BROKER_BACKEND=vault SECRETS_BROKER_VAULT_ADDR=$VAULT_ADDR SECRETS_BROKER_VAULT_AUTH=token VAULT_TOKEN=$broker_token"
}

run_tests() {
  start
  trap stop EXIT
  cd "$root"
  VAULT_SETUP_TOKEN="$token" npx tap --disable-coverage test/vault-real/
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  seed) seed ;;
  test) run_tests ;;
  *)
    echo "usage: $0 start|seed|test|stop" >&2
    exit 2
    ;;
esac
