"""The native CPU kernel for tabulated local students: the same numbers as the TorchScript
forward (through the ASE calculator and through ``kernel torch``), for every lmax, on two
elements, with ghosts and on 2 ranks; clear errors when it cannot run."""

import numpy as np
import pytest
import torch

from runtime_harness import assert_close, assert_lammps_error, gan_supercell, QUANTITIES, reference, run, run_student
from pair_student.contract import save_student
from pair_student.export import TABULATION_TOLERANCE
from pair_student.graph import atoms_to_graph, edge_forces
from pair_student.models import LocalStudent
from pair_student.models.tabulated import tabulate

ELEMENTS = ["Ga", "N"]


def network_model(lmax=2, first_bias=None, hidden=12, readout_layers=2, radial_mode="shared"):
    torch.manual_seed(lmax)
    model = LocalStudent(ELEMENTS, 4.5, channels=5, radial_hidden=8, hidden=hidden, lmax=lmax,
                         readout_layers=readout_layers, radial_mode=radial_mode).double()
    with torch.no_grad():  # non-trivial pair biases and readout, so every table row and invariant differs
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
        if first_bias is not None:
            model.readout_in.bias.copy_(torch.as_tensor(first_bias, dtype=torch.float64))
    return model


def tabulated_model(path, lmax=2, points=64, first_bias=None, hidden=12, readout_layers=2, radial_mode="shared"):
    table = tabulate(network_model(lmax, first_bias, hidden, readout_layers, radial_mode), points)
    return save_student(table, path, {"elements": ELEMENTS, "cutoff": 4.5})


@pytest.mark.parametrize("lmax", [1, 2, 3])
def test_native_kernel_equals_ase_and_torch_kernel(tmp_path, lmax):
    path = tabulated_model(tmp_path / "model.pt", lmax)
    atoms = gan_supercell()
    native = run_student(tmp_path / "native", atoms, path, boundary="p p p", specorder=ELEMENTS)
    assert "native kernel" in native["output"]
    torch_run = run_student(tmp_path / "torch", atoms, path, boundary="p p p", specorder=ELEMENTS,
                            options="kernel torch")
    assert "libtorch autograd" in torch_run["output"]
    ref = reference(native["atoms"], path)
    for key in QUANTITIES:
        assert_close(native[key], ref[key], what=f"native vs ASE {key}")
        assert_close(native[key], torch_run[key], what=f"native vs kernel torch {key}")


@pytest.mark.parametrize("radial_mode", ["pair_scale", "pair_out", "pair_mlp"])
def test_native_kernel_runs_species_resolved_radial_modes(tmp_path, radial_mode):
    """Every radial mode is a table per ordered pair: the kernel equals the TorchScript file
    exactly, and the network it was tabulated from within export's tolerance."""
    path = tabulated_model(tmp_path / "model.pt", points=256, radial_mode=radial_mode)
    native = run_student(tmp_path / "native", gan_supercell(), path, boundary="p p p", specorder=ELEMENTS)
    assert "native kernel" in native["output"]
    ref = reference(native["atoms"], path)
    for key in QUANTITIES:
        assert_close(native[key], ref[key], what=f"native vs ASE {key}")
    network = network_model(radial_mode=radial_mode)
    graph = atoms_to_graph(native["atoms"], 4.5, ELEMENTS)
    _, grad = network(graph["species"], graph["edge_index"], graph["edge_vectors"], graph["num_local"])
    forces = edge_forces(graph["edge_index"], grad, len(native["atoms"])).detach().numpy()
    assert np.linalg.norm(native["forces"] - forces) / np.linalg.norm(forces) < TABULATION_TOLERANCE


def test_native_kernel_float32_and_two_ranks(tmp_path):
    path = tabulated_model(tmp_path / "model.pt")
    atoms = gan_supercell()
    serial = run_student(tmp_path / "1", atoms, path, boundary="p p p", specorder=ELEMENTS)
    parallel = run_student(tmp_path / "2", atoms, path, boundary="p p p", specorder=ELEMENTS, nprocs=2)
    single = run_student(tmp_path / "3", atoms, path, boundary="p p p", specorder=ELEMENTS,
                         options="dtype float32 kernel native")
    for key in QUANTITIES:
        assert_close(parallel[key], serial[key], what=f"2 ranks {key}")
        assert_close(single[key], serial[key], rtol=1e-4, what=f"float32 {key}")


def test_native_kernel_far_into_the_silu_tails(tmp_path):
    """The kernel's own exponential against torch's SiLU where it is clamped (|z| > 708 in
    doubles, > 87 in floats) and deep in both tails."""
    bias = [-900.0, -300.0, -60.0, -20.0, -3.0, 0.5, 2.0, 15.0, 40.0, 95.0, 300.0, 900.0]
    path = tabulated_model(tmp_path / "model.pt", first_bias=bias)
    atoms = gan_supercell()
    native = run_student(tmp_path / "native", atoms, path, boundary="p p p", specorder=ELEMENTS)
    single = run_student(tmp_path / "single", atoms, path, boundary="p p p", specorder=ELEMENTS,
                         options="dtype float32 kernel native")
    ref = reference(native["atoms"], path)
    for key in QUANTITIES:
        assert_close(native[key], ref[key], what=f"native vs ASE {key}")
        assert_close(single[key], ref[key], rtol=1e-4, what=f"float32 {key}")


@pytest.mark.parametrize("dtype,rtol", [("float64", 1e-10), ("float32", 1e-4)])
def test_packed_and_blas_gemm_equal_ase(tmp_path, dtype, rtol):
    """The readout's two ways to multiply: a hidden width of 53 leaves a partial column panel in
    both dtypes (panels of 24 doubles, 48 floats) and 61 atoms a partial tile of rows."""
    path = tabulated_model(tmp_path / "model.pt", hidden=53, readout_layers=3)
    atoms = gan_supercell()
    del atoms[[0, 5, 9]]
    runs = {}
    for gemm in ("blas", "packed"):
        try:
            runs[gemm] = run_student(tmp_path / gemm, atoms, path, boundary="p p p", specorder=ELEMENTS,
                                     options=f"dtype {dtype} kernel native gemm {gemm}")
        except Exception as exc:  # a plugin built without AVX-512 refuses packed, by name
            if gemm == "packed" and "gemm packed needs the plugin built for AVX-512" in str(exc):
                pytest.skip("this plugin build has no packed gemm (no AVX-512)")
            raise
        assert f"native kernel, {gemm} gemm" in runs[gemm]["output"]
    ref = reference(runs["blas"]["atoms"], path)
    for gemm, result in runs.items():
        for key in QUANTITIES:
            assert_close(result[key], ref[key], rtol=rtol, what=f"gemm {gemm} {dtype} vs ASE {key}")


@pytest.mark.parametrize("options,fragments", [
    ("kernel native", ("kernel native needs a tabulated student", "--table-points")),
    ("kernel fast", ("unknown kernel 'fast'", "auto, native or torch")),
    ("gemm mkl", ("unknown gemm 'mkl'", "auto, blas or packed")),
])
def test_kernel_errors(gan_dir, options, fragments):
    assert_lammps_error(run(gan_dir, options=options), *fragments)
