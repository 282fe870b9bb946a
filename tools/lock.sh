#!/usr/bin/env bash
# Refresh requirements.lock: the exact versions, with hashes, of everything pyproject.toml's
# [project.dependencies] and its `dev` extra need, except torch (see below).
#
#   bash tools/lock.sh                      keep every locked version that still fits, add what is new
#   bash tools/lock.sh --upgrade            the newest versions inside pyproject.toml's ranges
#   bash tools/lock.sh --upgrade-package X  only X (and what it drags along)
#
# Then install from the new lock (README, "Set up and ask") and run the tests before committing.
#
# torch is left out of the lock on purpose. Installed as `pip install --no-deps torch==2.13.0`
# before the lock, it comes from the machine's local CPU wheel; any other torch 2.13.0 a
# resolver finds is the CUDA build, which pulls gigabytes of nvidia-* and triton packages.
# Its own dependencies (sympy, networkx, filelock, jinja2, fsspec, setuptools, ...) are locked
# like any other, resolved here from that CPU wheel's metadata.
set -euo pipefail
cd "$(dirname "$0")/.."

TORCH=2.13.0   # the same pin as .ci/run and the README's install line
WHEELS="${TORCH_WHEELS:-${PIP_FIND_LINKS:-/opt/wheels}}"   # a folder (or index page) with torch's +cpu wheel

command -v uv >/dev/null || { echo "tools/lock.sh: uv not found: run it in the project's venv (the dev extra has uv)" >&2; exit 2; }
override="$(mktemp)"
trap 'rm -f "$override"' EXIT
echo "torch==${TORCH}+cpu" >"$override"

# Resolved for CPython 3.11 on Linux x86_64 (the project's machines and CI); the hashes cover
# every file of each locked version, so other platforms with wheels of those versions work too.
uv pip compile pyproject.toml --extra dev \
  --generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
  --override "$override" --find-links "$WHEELS" --no-emit-package torch \
  --custom-compile-command "bash tools/lock.sh" --quiet -o requirements.lock "$@"
python tools/check_lock.py
