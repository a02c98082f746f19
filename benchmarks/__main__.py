"""``python -m benchmarks [options]`` runs the benchmark (:mod:`.run`); ``python -m benchmarks
TOOL [options]`` runs one of its tools (module ``benchmarks.TOOL``, a dash in TOOL an underscore)."""

import sys
from importlib import import_module

from .run import TOOLS, main

argv = sys.argv[1:]
if argv and argv[0] in TOOLS:
    module = import_module(f"benchmarks.{argv[0].replace('-', '_')}")
    raise SystemExit(module.main(argv[1:], prog=f"python -m benchmarks {argv[0]}"))
raise SystemExit(main(argv))
