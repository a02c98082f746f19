"""Records what every shipped student gives in ``lmp`` (energy, forces; float64 and
float32, native kernel) on a fixed rattled cell, so that a refactoring can be shown to change no bit:
``python tests/runtime/make_shipped_reference.py`` rewrites ``shipped_reference.json``. Run it
only when a change of numbers is intended, and say so in the commit."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from pair_student import read_metadata  # noqa: E402
from runtime_harness import cpu_signature, rattled, run_student, shipped_cases, variants  # noqa: E402


def main() -> int:
    records = {}
    with tempfile.TemporaryDirectory() as tmp:
        for system, size, path in shipped_cases():
            elements = read_metadata(path)["elements"]
            atoms = rattled(system)
            boundary = "p p p" if atoms.pbc.all() else "f f f"
            for dtype, gemm in variants(cpu_signature()):
                lmp = run_student(Path(tmp) / f"{system}-{size}-{dtype}-{gemm}", atoms, path, boundary=boundary,
                                  specorder=elements, options=f"dtype {dtype} gemm {gemm}")
                records[f"{system}/{size}/{dtype}/{gemm}"] = {
                    "energy": float(lmp["energy"]).hex(),
                    "forces": [float(v).hex() for v in lmp["forces"].ravel()],
                }
                print(system, size, dtype, gemm, lmp["energy"])
    out = {"cpu": cpu_signature(), "records": records}
    (HERE / "shipped_reference.json").write_text(json.dumps(out, indent=0) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
