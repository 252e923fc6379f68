#!/usr/bin/env bash
# `encore ope` against closed-form numpy computations of IPS, SNIPS and DR
# (tests/python/ope_closed_form_test.py), on the real broker.
# Usage: ope_python_test.sh ENCORE_BINARY PYTHON_PROTO_DIR VENV_DIR
#   (ENCORE_TEST_BROKERS from ctest; VENV_DIR is created once if missing)
set -euo pipefail
encore="$1"
proto_dir="$2"
venv="$3"
here="$(cd "$(dirname "$0")" && pwd)"
brokers="${ENCORE_TEST_BROKERS:?}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$here/python/setup_venv.sh" "$venv"
PYTHONDONTWRITEBYTECODE=1 PYTHONPATH="$proto_dir:$here/python" "$venv/bin/python" \
  "$here/python/ope_closed_form_test.py" --encore "$encore" --brokers "$brokers" --work "$work"
