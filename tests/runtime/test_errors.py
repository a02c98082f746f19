"""Bad input ends in a LAMMPS ERROR that names the problem and the fix, never a crash."""

import pytest
import torch

from pair_student.models.shipped import shipped_model
from pair_student.runtime.runner import read_thermo, run_lammps
from runtime_harness import assert_lammps_error, run


def test_missing_file(gan_dir):
    assert_lammps_error(run(gan_dir, model="nowhere.pt"), "cannot open model file 'nowhere.pt'")


def test_file_that_is_not_torchscript(gan_dir):
    (gan_dir / "junk.pt").write_text("not a model\n")
    assert_lammps_error(run(gan_dir, model="junk.pt"), "cannot read 'junk.pt' as a TorchScript student")


def test_torchscript_without_student_metadata(gan_dir):
    torch.jit.save(torch.jit.script(torch.nn.Linear(3, 1)), str(gan_dir / "plain.pt"))
    assert_lammps_error(run(gan_dir, model="plain.pt"), "not a pair_student model")


def test_incompatible_contract_version(gan_dir):
    extra = {"contract_version": "99", "elements": "Ga N", "cutoff": "4.5", "num_layers": "1",
             "units": "metal", "dtype": "float64"}
    torch.jit.save(torch.jit.script(torch.nn.Linear(3, 1)), str(gan_dir / "future.pt"), _extra_files=extra)
    assert_lammps_error(run(gan_dir, model="future.pt"), "contract v99", "reads v1")


def test_unknown_element(gan_dir):
    assert_lammps_error(run(gan_dir, coeff="Ga Xe"), "element 'Xe' of type 2 is unknown", "knows Ga N")


def test_wrong_number_of_elements(gan_dir):
    assert_lammps_error(run(gan_dir, coeff="Ga N N"), "one element (or NULL) for each of the 2 atom types")


def test_real_units_are_refused(gan_dir):
    assert_lammps_error(run(gan_dir, units="real"), "'metal' units", "use 'units metal'")


def test_newton_off_is_refused(gan_dir):
    assert_lammps_error(run(gan_dir, newton="newton off"), "requires 'newton on'")


def test_unknown_keyword(gan_dir):
    assert_lammps_error(run(gan_dir, options="precision high"), "unknown keyword 'precision'")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_cuda_without_gpu(gan_dir):
    assert_lammps_error(run(gan_dir, options="device cuda"), "device cuda requested", "use 'device cpu'")



SWAP_HEAD = """
units metal
atom_style atomic
boundary p p p
read_data {data}
thermo_style custom step pe
thermo_modify format float %.17g
"""


def swap(data, *steps):
    """pair_style student MODEL, then COEFF (a pair_coeff line or nothing), then run 0, per step."""
    return SWAP_HEAD.format(data=data) + "".join(f"pair_style student {model}\n{coeff}\nrun 0\n" for model, coeff in steps)


def test_reissued_pair_style_forgets_the_type_map(gan_dir):
    """A GaN model mapped Ga N, then a Si model with no new pair_coeff: the old map would send
    species 1 into the one-element Si tables (garbage energies, exit 0); LAMMPS must stop and ask
    for the pair_coeff instead, and with it the Si model gives what it gives on its own."""
    gan, si = shipped_model("gan", "ultra-tiny"), shipped_model("si", "ultra-tiny")
    data = gan_dir / "system.data"
    forgot = run_lammps(swap(data, (gan, "pair_coeff * * Ga N"), (si, "")), workdir=gan_dir / "forgot")
    assert_lammps_error(forgot, f"no pair_coeff since 'pair_style student {si}'",
                        "follow it with 'pair_coeff * *'", "the model's elements (Si)")
    remapped = run_lammps(swap(data, (gan, "pair_coeff * * Ga N"), (si, "pair_coeff * * Si Si")),
                          workdir=gan_dir / "remapped").check()
    alone = run_lammps(swap(data, (si, "pair_coeff * * Si Si")), workdir=gan_dir / "alone").check()
    energy = read_thermo(remapped.workdir / "log.lammps")["PotEng"][-1]
    # not bit-equal: 'gemm auto' times blas against packed at each load and may pick either,
    # which moves the last digits; a stale type map would be off by electronvolts
    assert energy == pytest.approx(read_thermo(alone.workdir / "log.lammps")["PotEng"][-1], rel=1e-12)
