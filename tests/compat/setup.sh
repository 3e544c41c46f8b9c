#!/usr/bin/env bash
# Creates the virtualenvs the Python tests use: for the compatibility suite
# (tests/compat/run.py), boto3/botocore/awscli of the current generation (SQS
# over JSON 1.0, with jsonschema, which tests/audit.rs uses to validate SARIF)
# and of the last query/XML generation; for the container
# tests, testcontainers with boto3 (README's Python example). Idempotent: a venv that already has the
# pinned versions is left alone; any other is recreated.
set -euo pipefail
cd "$(dirname "$0")/../.."

# name: pinned requirements (botocore is pinned exactly by both boto3 and awscli)
declare -A PINS=(
  [compat-json]="boto3==1.43.11 botocore==1.43.11 awscli==1.45.11 jsonschema==4.23.0"
  [compat-query]="boto3==1.34.89 botocore==1.34.89 awscli==1.32.89"
  [testcontainers]="testcontainers==4.14.2 boto3==1.43.11 botocore==1.43.11"
)

# True when the venv's python imports, and pip reports exactly the pinned versions.
has_pins() {
  local venv=$1; shift
  [ -x "$venv/bin/python" ] || return 1
  local frozen
  frozen=$("$venv/bin/python" -m pip freeze --disable-pip-version-check 2>/dev/null) || return 1
  local pin
  for pin in "$@"; do
    grep -qixF "$pin" <<<"$frozen" || return 1
  done
}

for name in compat-json compat-query testcontainers; do
  venv=".venv/$name"
  read -r -a pins <<<"${PINS[$name]}"
  if has_pins "$venv" "${pins[@]}"; then
    echo "setup: $venv up to date (${pins[*]})"
    continue
  fi
  echo "setup: installing ${pins[*]} into $venv"
  python3 -m venv --clear "$venv"   # a fresh venv: no leftovers of other versions
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${pins[@]}"
  has_pins "$venv" "${pins[@]}" || { echo "setup: $venv does not have ${pins[*]} after install" >&2; exit 1; }
done
