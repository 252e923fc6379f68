#!/usr/bin/env bash
# Creates (or refreshes) a Python virtual environment with the pinned
# dependencies of the Python snapshot reader (requirements.txt beside this
# script). Idempotent: an environment already holding these exact
# requirements is left alone, so a build directory installs them once.
# Usage: setup_venv.sh VENV_DIR
set -euo pipefail
venv="${1:?usage: setup_venv.sh VENV_DIR}"
requirements="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/requirements.txt"
stamp="$venv/encore-requirements.txt"

if [[ -x "$venv/bin/python" ]] && cmp -s "$requirements" "$stamp" &&
  "$venv/bin/python" -c 'import rocksdict, google.protobuf' 2>/dev/null; then
  exit 0
fi
echo "setup_venv: creating $venv" >&2
if ! python3 -m venv --clear "$venv"; then
  echo "setup_venv: python3 -m venv failed; install python3-venv (ops/install-deps.sh)" >&2
  exit 1
fi
# Wheels only: no compiler (or Rust toolchain) is needed or used.
if ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  --only-binary=:all: --requirement "$requirements"; then
  echo "setup_venv: pip could not install $requirements" >&2
  exit 1
fi
cp "$requirements" "$stamp"
