#!/usr/bin/env bash
# Creates tests/python/.venv with the real python-3parclient and pytest, pinned.
# The Rust test `wsapi::python_client` runs the suite with this environment.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="${PYTHON:-python3}"
if [ ! -x "$here/.venv/bin/python" ]; then
    "$python" -m venv "$here/.venv"
fi
"$here/.venv/bin/pip" install --quiet --disable-pip-version-check \
    "python-3parclient==4.4" "requests==2.32.3" "paramiko==3.5.1" "eventlet==0.39.1" "pytest==8.4.2"
"$here/.venv/bin/python" -c "import hpe3parclient.client, pytest; print('python-3parclient ready, pytest', pytest.__version__)"
