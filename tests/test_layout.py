"""The package's shape: data flows one way through the stages (no stage imports a later one),
the installed package never reaches into a source checkout, and the benchmark harness is not
part of it."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import List, Optional, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "python" / "pair_student"

# Pipeline order; a module may import its own stage, an earlier one, or the core.
STAGES = ["teachers", "data", "models", "training", "export", "runtime", "analysis", "validate"]
CORE = {"contract", "graph", "registry", "scores", "atomic", "calculator", "distributed", "_pair_student_mpi"}
COMPOSERS = {"__init__", "__main__", "cli", "distill", "quickstart", "active"}  # compose stages, imported by none


def rank(module: str) -> Optional[float]:
    """Position of ``pair_student.X...`` (or ``_pair_student_mpi``) in the pipeline."""
    parts = module.split(".")
    if parts[0] == "_pair_student_mpi":
        return -1
    if parts[0] != "pair_student":
        return None
    if len(parts) == 1 or parts[1] in COMPOSERS:
        return len(STAGES)
    if parts[1] in CORE:
        return -1
    if parts[1] in STAGES:
        return STAGES.index(parts[1])
    raise AssertionError(f"{module} is neither a stage ({', '.join(STAGES)}), the core nor a composer: "
                         "add it to the layout (tests/test_layout.py)")


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    return ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)


def imports(path: Path) -> List[Tuple[str, int]]:
    """Every module ``path`` imports, at the top or inside functions, with its line."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # `from . import x` names a submodule: its stage is what counts
            found += [(f"{target}.{a.name}" if node.module is None else target, node.lineno) for a in node.names]
        elif _dynamic_import(node):
            found.append((node.args[0].value, node.lineno))
    return found


def _dynamic_import(node) -> bool:
    """``importlib.import_module("x.y")`` or ``__import__("x.y")`` with a literal name."""
    if not isinstance(node, ast.Call) or not node.args or not isinstance(node.args[0], ast.Constant):
        return False
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    return name in ("import_module", "__import__") and isinstance(node.args[0].value, str)


SOURCES = sorted(PACKAGE.rglob("*.py")) + [PACKAGE.parent / "_pair_student_mpi.py"]


def back_edges() -> List[str]:
    edges = []
    for path in SOURCES:
        own = module_name(path) if path.parent != PACKAGE.parent else "_pair_student_mpi"
        mine = rank(own)
        for target, line in imports(path):
            theirs = rank(target)
            if theirs is not None and theirs > mine:
                edges.append(f"{path.relative_to(ROOT)}:{line}: {own} imports {target}")
    return edges


def test_no_stage_imports_a_later_stage():
    edges = back_edges()
    assert not edges, "imports against the pipeline's direction:\n" + "\n".join(edges)


def test_the_checker_sees_a_back_edge(tmp_path, monkeypatch):
    """A stage that imports a later one (here training -> export, as the trainer once did) is caught."""
    fake = tmp_path / "pair_student" / "training"
    fake.mkdir(parents=True)
    (fake / "trainer.py").write_text("def f():\n    from ..export import export\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", tmp_path / "pair_student")
    monkeypatch.setattr(__import__(__name__), "SOURCES", [fake / "trainer.py"])
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path)
    assert back_edges() == ["pair_student/training/trainer.py:2: pair_student.training.trainer imports pair_student.export"]


def test_every_module_has_a_place_in_the_layout():
    for path in SOURCES:
        for target, _ in imports(path):
            rank(target)  # raises for a module outside the stages, core and composers
        rank(module_name(path) if path.parent != PACKAGE.parent else "_pair_student_mpi")


def checkout_reaches(path: Path) -> List[str]:
    """Ways ``path`` reaches outside the installed package: a path climbing above the package
    root (``parents[k]``, ``.parent`` chains, nested ``os.path.dirname``), an import of the
    checkout's ``benchmarks``, ``scripts`` or ``tests``, or a checkout's ``out/`` folder."""
    text, where = path.read_text(), path.relative_to(ROOT)
    depth = len(path.relative_to(PACKAGE.parent).parts) - 1  # climbing `depth` levels reaches the package root
    bad = [f"{where}: parents[{k}] leaves the package" for k in map(int, re.findall(r"parents\[(\d+)\]", text))
           if k >= depth]
    chains = re.findall(r"__file__\)(?:\.resolve\(\)|\.absolute\(\))?((?:\.parent(?![\w(]))+)", text)
    bad += [f"{where}: a chain of {chain.count('.parent')} .parent leaves the package"
            for chain in chains if chain.count(".parent") > depth]
    nests = re.findall(r"((?:(?:os\.path\.)?dirname\()+)__file__", text)
    bad += [f"{where}: {nest.count('dirname(')} nested dirname() leave the package"
            for nest in nests if nest.count("dirname(") > depth]
    bad += [f"{where}:{line}: imports {target}" for target, line in imports(path)
            if target.split(".")[0] in ("benchmarks", "scripts", "tests")]
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and re.fullmatch(r"(\.?/)?out(/.*)?|.*/out(/.*)?", node.value):
            bad.append(f"{where}:{node.lineno}: refers to a checkout's out/ folder ({node.value!r})")
    return bad


def test_package_code_does_not_reach_into_a_checkout():
    """Installed code reads nothing outside the package: no ``benchmarks``, ``scripts`` or
    ``out/`` of a source tree, no path climbing above the package."""
    bad = [line for path in SOURCES for line in checkout_reaches(path)]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("source,found", [
    ('ROOT = Path(__file__).resolve().parents[2]', "parents[2] leaves"),
    ('ROOT = Path(__file__).resolve().parent.parent.parent / "benchmarks"', "3 .parent leaves"),
    ('ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))', "3 nested dirname"),
    ('OUT = Path("out") / "bench"', "out/ folder"),
    ('OUT = Path.cwd() / "out/datasets"', "out/ folder"),
    ('def f():\n    import benchmarks.run', "imports benchmarks.run"),
    ('m = importlib.import_module("benchmarks.run")', "imports benchmarks.run"),
])
def test_the_checkout_check_sees_each_way_out(tmp_path, monkeypatch, source, found):
    """Planted in a module two levels deep (pair_student/runtime/x.py), each is caught; the
    same module climbing only to the package root is not."""
    module = tmp_path / "pair_student" / "runtime" / "x.py"
    module.parent.mkdir(parents=True)
    module.write_text(source + "\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", tmp_path / "pair_student")
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path)
    assert any(found in line for line in checkout_reaches(module)), checkout_reaches(module)
    module.write_text('LIB = Path(__file__).resolve().parents[1] / "lib"\nX = Path(__file__).parent.parent\n'
                      'parser.add_argument("--out", default="student_out")\n')
    assert checkout_reaches(module) == []


def test_the_package_holds_no_benchmark_harness():
    """What the wheel packs is python/ (pyproject's package-dir); the harness lives in benchmarks/."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'package-dir = { "" = "python" }' in pyproject
    assert "bench" not in pyproject.split("[tool.setuptools.package-data]")[1].split("[")[0]
    names = [p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*") if "__pycache__" not in p.parts]
    assert not [n for n in names if re.search(r"(^|/)(bench|peers|deepmd)", n)]
    assert (ROOT / "benchmarks" / "__main__.py").is_file()


def test_the_cpp_folder_holds_no_python():
    assert not list((ROOT / "pair_student").glob("*.py"))


@pytest.mark.parametrize("stage", ["data", "models", "training", "export", "runtime", "analysis", "validate"])
def test_every_stage_with_a_command_has_its_cli(stage):
    from pair_student.cli import COMMANDS

    modules = {module.split(":")[0] for module, _ in COMMANDS.values()}
    assert f"pair_student.{stage}.cli" in modules, f"no pair-student command dispatches to pair_student.{stage}.cli"
    assert (PACKAGE / stage / "cli.py").is_file()
