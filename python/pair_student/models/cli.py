"""``pair-student models``: the absolute path of every shipped student, one per line."""

from __future__ import annotations

import argparse
from typing import List, Optional

from ..registry import DEMO_NAMES
from .shipped import shipped_models


def main(argv: Optional[List[str]] = None, prog: str = "pair-student models") -> int:
    parser = argparse.ArgumentParser(prog=prog, description="Print the absolute path of every shipped student.")
    parser.add_argument("--system", choices=DEMO_NAMES, help="only this demo system")
    args = parser.parse_args(argv)
    for system, sizes in shipped_models().items():
        if args.system in (None, system):
            for path in sizes.values():
                print(path)
    return 0
