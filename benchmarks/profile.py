"""Where a student's time goes in LAMMPS, per torch thread count and dtype:
``python -m benchmarks.profile [--model M.pt] [--natoms 10000] [--threads 1 2]``.

Each run is the benchmark's NVE timing (:func:`.speed.time_potential`) with
``pair_style student FILE dtype D threads T``; the split into model call vs graph build and
force scatter is the plugin's own end-of-run timing line. For a tabulated student the last
column is what its matrix products cost through BLAS alone: the products the native kernel makes
per atom (channel mixings and readout MLP, forward and backward), timed as torch matmuls of the
same shapes on one thread, the BLAS of ``gemm blas``. ``gemm packed`` can do them in less where
that BLAS runs below the core's peak (MKL's AVX2 code on AMD CPUs).

``--presets`` instead prints, without LAMMPS, the parameter count and the CPU cost of every
:data:`~pair_student.models.local.PRESETS` size on 512-atom diamond Si (the scripted model
called from Python in float32, as the pair style calls it; no native kernel, no tables).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import List, Optional, Tuple

import torch
from ase import Atoms
from ase.build import bulk

from pair_student.contract import evaluate, read_metadata, save_student
from pair_student.graph import atoms_to_graph
from pair_student.models import PRESETS, LocalStudent, ReferenceStudent
from pair_student.models.tabulated import is_tabulated
from pair_student.registry import DEMO_NAMES

from .common import OUT, Potential
from .report import fmt
from .speed import supercell, time_potential

# atoms per readout block in the native kernel (BLOCK in pair_student/student_native.cpp)
KERNEL_BLOCK = 128


def gemm_shapes(model, block: int = KERNEL_BLOCK) -> List[Tuple[int, int, int]]:
    """(rows, inner, cols) of every matrix product the native kernel makes for ``block`` atoms of
    a tabulated local student: channel mixings and readout layers, forward and backward."""
    true_c, lmax = int(model.channels), int(model.lmax)
    c = (true_c + 7) // 8 * 8  # the kernel pads channels to a multiple of 8, features with them
    mixings = [(3 * block, c, c)] + ([(5 * block, c, 3 * c)] if lmax >= 2 else []) \
        + ([(10 * block, c, c)] if lmax == 3 else [])
    layers = [model.readout_in] + list(model.readout_hidden.children())
    readout = [(block, int(lin.weight.shape[1]), int(lin.weight.shape[0])) for lin in layers]
    readout[0] = (block, readout[0][1] // true_c * c, readout[0][2])
    forward = mixings + readout
    return forward + [(rows, cols, inner) for rows, inner, cols in forward]


def blas_products_us(model_path: Path, dtype: str, block: int = KERNEL_BLOCK, min_s: float = 0.3) -> Optional[float]:
    """µs per atom of the native kernel's matrix products alone (see :func:`gemm_shapes`),
    or None for a model the native kernel does not run."""
    model = torch.jit.load(str(model_path), map_location="cpu")
    # the native kernel's own rule (NativeKernel::supports): tabulated, readout not quantized
    if not (is_tabulated(model) and hasattr(model.readout_in, "weight")):
        return None
    torch_dtype = getattr(torch, dtype)
    pairs = [(torch.randn(rows, inner, dtype=torch_dtype), torch.randn(inner, cols, dtype=torch_dtype))
             for rows, inner, cols in gemm_shapes(model, block)]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for a, b in pairs:  # warm-up
            a @ b
        calls, start = 0, time.perf_counter()
        while time.perf_counter() - start < min_s:
            for a, b in pairs:
                a @ b
            calls += 1
        return 1e6 * (time.perf_counter() - start) / (calls * block)
    finally:
        torch.set_num_threads(threads)


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def time_per_atom(model: torch.nn.Module, atoms: Atoms, repeats: int = 5) -> float:
    """Microseconds per atom of scripted forward + edge gradient (float32, as LAMMPS calls it)."""
    g = atoms_to_graph(atoms, model.cutoff, model.elements, dtype=torch.float32)
    scripted = torch.jit.script(model).float().eval()
    args = (g["species"], g["edge_index"], g["edge_vectors"], len(atoms))
    for _ in range(2):  # TorchScript compiles on the first calls
        evaluate(scripted, *args)
    start = time.perf_counter()
    for _ in range(repeats):
        evaluate(scripted, *args)
    return (time.perf_counter() - start) / repeats / len(atoms) * 1e6


def print_presets() -> None:
    """Parameters and µs/atom of every local-student preset (and an lmax 1 variant) on
    512-atom diamond Si, cutoff 5 A."""
    si = bulk("Si", "diamond", a=5.43, cubic=True).repeat(4)
    variants = {name: {"preset": name} for name in PRESETS}
    variants["ultra-tiny lmax=1"] = {"channels": 32, "hidden": 96, "radial_hidden": 32, "lmax": 1}
    print("| size | parameters | µs/atom (scripted, float32) |")
    print("|---|---|---|")
    for name, kwargs in variants.items():
        model = LocalStudent(["Si"], 5.0, **kwargs)
        print(f"| {name} | {count_parameters(model)} | {time_per_atom(model, si):.1f} |", flush=True)


def main(argv: Optional[List[str]] = None, prog: str = "python -m benchmarks.profile") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="student .pt (default: the reference student, Si)")
    parser.add_argument("--system", default="si", choices=DEMO_NAMES, help="demo system whose supercell is run")
    parser.add_argument("--natoms", type=int, default=10000)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    parser.add_argument("--target-s", type=float, default=2.0)
    parser.add_argument("--out", type=Path, default=OUT / "bench" / "profile")
    parser.add_argument("--presets", action="store_true",
                        help="instead: parameters and CPU cost of every local-student preset, without LAMMPS")
    args = parser.parse_args(argv)
    if args.presets:
        print_presets()
        return 0
    model = args.model or save_student(ReferenceStudent(["Si"], cutoff=4.5), args.out / "reference_si.pt",
                                       {"elements": ["Si"], "cutoff": 4.5})
    elements = read_metadata(model)["elements"]
    atoms = supercell(args.system, args.natoms)
    print(f"model: {model}, {len(atoms)} atoms ({args.system}), 1 MPI rank")
    print("| dtype | torch threads | µs/atom-step | model ms/call | graph build + scatter ms/call | overhead % "
          "| BLAS products µs/atom (1 thread) |")
    print("|---|---|---|---|---|---|---|")
    for dtype in args.dtypes:
        products = blas_products_us(model, dtype)
        for threads in args.threads:
            pot = Potential(f"{dtype} t{threads}", "student", f"student {model.resolve()} dtype {dtype} threads {threads}",
                            [f"* * {' '.join(elements)}"], elements)
            row = time_potential(pot, atoms, args.out / f"{dtype}_t{threads}", target_s=args.target_s)
            print(f"| {dtype} | {threads} | {fmt(row['us_per_atom_step'])} | {fmt(row.get('model_ms'))} | "
                  f"{fmt(row.get('glue_ms'))} | {fmt(row.get('overhead_pct'))} | {fmt(products)} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
