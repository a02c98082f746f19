"""Run ``lmp`` (serial or under ``mpirun``) in a folder and read back what it wrote."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence

import numpy as np

from .plugin import lammps_env, lmp_command

NKTV2P_METAL = 1.6021765e6  # bar per eV/A^3, LAMMPS' pressure conversion for units metal


@dataclass
class LammpsResult:
    returncode: int
    output: str
    workdir: Path

    @property
    def error(self) -> Optional[str]:
        """The first ``ERROR`` line LAMMPS printed, if any."""
        for line in self.output.splitlines():
            if "ERROR" in line:
                return line.strip()
        return None

    def check(self) -> "LammpsResult":
        if self.returncode != 0:
            raise RuntimeError(f"lmp failed ({self.returncode}) in {self.workdir}: {self.error}\n{self.output[-3000:]}")
        return self


def run_lammps(
    script: str,
    *,
    workdir: str | Path,
    nprocs: int = 1,
    variables: Optional[Mapping[str, object]] = None,
    extra_args: Sequence[str] = (),
    timeout: float = 600,
) -> LammpsResult:
    """Write ``script`` to ``workdir/in.lammps`` and run it; never raises on LAMMPS errors."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "in.lammps").write_text(script)
    args: List[str] = ["-in", "in.lammps", "-log", "log.lammps", *extra_args]
    for name, value in (variables or {}).items():
        args += ["-var", name, str(value)]
    proc = subprocess.run(
        lmp_command(args, nprocs=nprocs),
        cwd=workdir,
        env=lammps_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
    return LammpsResult(proc.returncode, proc.stdout, workdir)


def read_dump(path: str | Path) -> Dict[str, np.ndarray]:
    """Last frame of a text ``dump custom`` file as column arrays, sorted by atom id."""
    lines = Path(path).read_text().splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("ITEM: ATOMS")]
    if not starts:
        raise ValueError(f"{path} holds no ITEM: ATOMS section")
    header = lines[starts[-1]].split()[2:]
    rows = [line.split() for line in lines[starts[-1] + 1 :] if line and not line.startswith("ITEM")]
    data = np.array(rows, dtype=float)
    order = np.argsort(data[:, header.index("id")])
    return {name: data[order, k] for k, name in enumerate(header)}


def read_thermo(log: str | Path) -> Dict[str, np.ndarray]:
    """Thermo columns of the last run in a LAMMPS log."""
    lines = Path(log).read_text().splitlines()
    header_rows = [i for i, line in enumerate(lines) if line.split()[:1] == ["Step"]]
    if not header_rows:
        raise ValueError(f"{log} has no thermo output")
    start = header_rows[-1]
    names = lines[start].split()
    rows = []
    for line in lines[start + 1 :]:
        parts = line.split()
        if len(parts) != len(names):
            break
        try:
            rows.append([float(p) for p in parts])
        except ValueError:
            break
    data = np.array(rows)
    return {name: data[:, k] for k, name in enumerate(names)}
