"""The README's first run: a shipped student in lmp, crystal and molecule."""

import pytest

from pair_student.runtime.runner import read_thermo
from pair_student.quickstart import main


@pytest.mark.parametrize("system,natoms", [("si", 512), ("ethanol", 9)])
def test_quickstart_runs_a_shipped_student(tmp_path, capsys, system, natoms):
    assert main(["--system", system, "--size", "ultra-tiny", "--steps", "20", "--out", str(tmp_path)]) == 0
    assert f"ran 20 NVT steps of {natoms} atoms" in capsys.readouterr().out
    thermo = read_thermo(tmp_path / "log.lammps")
    assert thermo["Step"][-1] == 20 and (thermo["Temp"] > 0).all()
