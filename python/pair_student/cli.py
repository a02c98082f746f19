"""``pair-student``: one entry point, one subcommand per pipeline stage.

Each subcommand lives in its stage's ``cli`` module as a function ``(argv, prog) -> int`` with
its own argparse parser; only the module of the command being run is imported, so ``--help`` is fast
and an optional backend that is not installed only matters to the command that needs it.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Callable, List, Optional

# name -> ("module:function", one-line summary), in pipeline order
COMMANDS = {
    "sample": ("pair_student.data.cli:sample_main", "generate diverse configurations from structures (MD, rattle, strain)"),
    "label": ("pair_student.data.cli:label_main", "label configurations with a teacher into a resumable extxyz dataset"),
    "train": ("pair_student.training.cli:main", "train one student on a labelled dataset, up to a checkpoint"),
    "export": ("pair_student.export.cli:main", "export a checkpoint to TorchScript / ONNX, verified against the model"),
    "models": ("pair_student.models.cli:main", "print the path of every student shipped with the package"),
    "lmp": ("pair_student.runtime.cli:main", "run LAMMPS (serial or under mpirun) with the student plugin set up"),
    "analyze": ("pair_student.analysis.cli:main", "per-atom force analysis of students against the teacher"),
    "validate": ("pair_student.validate.cli:main", "run the same LAMMPS input with teacher and students, compare"),
    "distill": ("pair_student.distill:main", "whole pipeline: sample -> label -> train -> export, for several sizes"),
}


def _usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: pair-student COMMAND [options]   (pair-student COMMAND --help for details)", "", "commands:"]
    lines += [f"  {name:<{width}}  {summary}" for name, (_, summary) in COMMANDS.items()]
    return "\n".join(lines)


def command(name: str) -> Callable[..., int]:
    """The ``main(argv, prog)`` of a subcommand, importing only its module."""
    module, _, function = COMMANDS[name][0].partition(":")
    return getattr(importlib.import_module(module), function)


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"pair-student: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    try:
        return int(command(name)(rest, prog=f"pair-student {name}") or 0)
    except (ValueError, FileNotFoundError, ImportError) as exc:
        # bad input (a file, a name, a missing extra, a checkpoint of another model): one line
        # that names it, not a traceback; PAIR_STUDENT_DEBUG=1 shows where it came from
        if os.environ.get("PAIR_STUDENT_DEBUG"):
            raise
        print(f"pair-student {name}: error: {exc}", file=sys.stderr)
        return 2

if __name__ == "__main__":
    sys.exit(main())
