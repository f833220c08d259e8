#!/usr/bin/env bash
# Create (or reuse) .venv with the pinned stack and mmext installed in editable mode.
# Everything comes from the package registries; rerunning is cheap once installed.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${MMEXT_VENV:-.venv}
PY=${PYTHON:-python3}

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install --quiet --disable-pip-version-check)

"${PIP[@]}" -r requirements/torch.txt
# setuptools is pinned after torch, which pulls a newer one (see runtime.txt).
"${PIP[@]}" -r requirements/mminstall.txt -r requirements/runtime.txt -r requirements/tests.txt
# mmagic's declared dependencies would replace torch: install it alone.
"${PIP[@]}" --no-deps -r requirements/mmagic.txt
"${PIP[@]}" --no-deps -e .
# Every family, so that the whole pinned stack is imported once together.
"$VENV/bin/python" -c "import mmext.classification, mmext.correspondence, \
mmext.flow, mmext.generation, mmext.razor" >/dev/null
echo "mmext environment ready: $VENV"
