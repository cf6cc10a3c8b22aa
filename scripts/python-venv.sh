#!/usr/bin/env bash
# Creates (or refreshes) the test virtualenv in .venv/ from test/requirements.txt.
# Idempotent: a venv whose requirements stamp matches is left alone, so tests can call it freely.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv"
reqs="$root/test/requirements.txt"
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$reqs" | cut -d' ' -f1)
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$reqs"
echo "$want" >"$stamp"
