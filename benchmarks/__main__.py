"""``python -m benchmarks [options]`` runs the benchmark (:mod:`.run`); ``python -m benchmarks
TOOL [options]`` runs one of its tools, the same as ``python -m benchmarks.TOOL``."""

import sys
from importlib import import_module

from .run import TOOLS, main

argv = sys.argv[1:]
if argv and argv[0] in TOOLS:
    raise SystemExit(import_module(f"benchmarks.{argv[0]}").main(argv[1:], prog=f"python -m benchmarks {argv[0]}"))
raise SystemExit(main(argv))
