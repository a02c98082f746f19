"""The benchmark harness of a source checkout: students against the teacher, peer potentials
and classical potentials in the same ``lmp``. It is not part of the installed package; run it
from the repository root with ``python -m benchmarks`` (see ``benchmarks/README.md``).

Modules: :mod:`.run` (the benchmark: ``bench.json``, ``bench.md``, ``bench.png``),
:mod:`.potentials` (students and classical potentials of a demo system), :mod:`.peers` (SNAP,
POD, UF3, DeePMD fits), :mod:`.evaluate` (force errors on test frames), :mod:`.speed` (timings,
memory, teacher cost), :mod:`.report` (Pareto analysis, tables, plot), :mod:`.common` (the
checkout's ``out/``, potentials, data files, lmp runs with peak memory). Tools of their own:
:mod:`.floor` (students and the classical floor timed in alternating rounds), :mod:`.overhead`
(the plugin's model vs graph-build split), :mod:`.locality` (ghost shells of 1 and 2 layers
under MPI), :mod:`.profile` (a student's time per dtype and thread count).
"""
