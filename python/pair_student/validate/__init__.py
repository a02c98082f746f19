"""Teacher and students on the same LAMMPS inputs: each run, what comes out compared, and a
verdict (``pair-student validate`` is :mod:`.cli`). A Python teacher runs inside LAMMPS
through ``fix external`` (one MPI rank); a classical teacher (``sw-si``, ``sw-gan``,
``tersoff-gan``) as its own pair style."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence

from ase import Atoms

from ..calculator import StudentCalculator
from ..contract import ContractError, read_metadata
from ..data.structures import read_structures
from ..runtime.plugin import lmp_executable, plugin_path
from ..teachers import get_teacher
from . import compare, report
from .runs import INPUTS_DIR, PROTOCOLS, Model, Run, check_input, classical_teacher_lines, md_every, python_teacher_model, run_protocol, write_data
from .teacher_fix import student_lines

DEFAULT_PROTOCOLS = ("minimize", "nve", "nvt")


class ValidationError(RuntimeError):
    """The validation itself cannot run (bad arguments, missing files, failing teacher)."""


def _tqdm(**kwargs):
    from tqdm.auto import tqdm

    return tqdm(**kwargs)


def teacher_model(teacher, *, elements: Sequence[str], cutoff: float, device: str = "cpu") -> tuple[Model, dict]:
    """The teacher as a :class:`Model` and a description for the report.

    ``teacher`` is a registry name (classical ones run as their own pair style), ``student:FILE``
    (a student file evaluated in Python, through fix external: a self-check of the pipeline),
    a :class:`~pair_student.teachers.Teacher` or an ASE calculator.
    """
    if isinstance(teacher, str):
        lines = classical_teacher_lines(teacher, elements)
        if lines is not None:
            return Model("teacher", "classical", lines), {"name": teacher, "kind": "classical LAMMPS pair style",
                                                          "lines": lines}
        if teacher.startswith("student:"):
            path = Path(teacher.split(":", 1)[1])
            _check_student(path, elements)
            teacher = get_teacher(StudentCalculator(path, device=device), name=f"student:{path.name}", version=str(path))
        else:
            try:
                teacher = get_teacher(teacher, device=device)
            except (ImportError, ValueError, FileNotFoundError, RuntimeError) as exc:
                raise ValidationError(f"teacher {teacher!r} is not available: {exc}") from exc
    elif not hasattr(teacher, "compute"):  # an ASE calculator; Teachers (anything with compute) pass as is
        teacher = get_teacher(teacher)
    desc = {"name": getattr(teacher, "name", type(teacher).__name__), "version": getattr(teacher, "version", None),
            "kind": "Python teacher via fix external (1 rank)"}
    return python_teacher_model(teacher, cutoff=cutoff), desc


def _check_student(path: Path, elements: Sequence[str]) -> dict:
    if not path.is_file():
        raise ValidationError(f"student model file {str(path)!r} does not exist")
    try:
        meta = read_metadata(path)
    except ContractError as exc:
        raise ValidationError(str(exc)) from exc
    missing = sorted(set(elements) - set(meta["elements"]))
    if missing:
        raise ValidationError(f"student {path} knows {meta['elements']}, the structure also has {missing}")
    return meta


def _structure(spec) -> Atoms:
    if isinstance(spec, Atoms):
        return spec.copy()
    try:
        return read_structures(str(spec))[0]
    except (FileNotFoundError, ValueError) as exc:
        raise ValidationError(str(exc)) from exc


def _prepare(atoms: Atoms) -> Atoms:
    """Molecules need a box for LAMMPS (shrink-wrapped, so its size only sets the start)."""
    atoms = atoms.copy()
    if not any(atoms.pbc):
        atoms.center(vacuum=6.0)
    elif not all(atoms.pbc):
        raise ValidationError("mixed periodicity is not supported: use a fully periodic cell or a molecule (pbc=False)")
    return atoms


def _check_lammps() -> None:
    """Fail before any work when ``lmp`` or the pair style plugin cannot be found."""
    try:
        lmp_executable()
        plugin_path()
    except FileNotFoundError as exc:
        raise ValidationError(str(exc)) from exc


def _system_name(structure, atoms: Atoms) -> str:
    """The demo name, the file stem, or the formula of an Atoms object."""
    if isinstance(structure, Atoms):
        return atoms.get_chemical_formula()
    return Path(str(structure)).stem if Path(str(structure)).is_file() else str(structure)


def _scripts(inputs: Optional[Mapping[str, str | Path]], protocols: Sequence[str], periodic: bool) -> Dict[str, str]:
    """``{protocol: input text}`` of the inputs to run, each checked for what the validator needs."""
    scripts = {}
    for name, path in (inputs or {p: INPUTS_DIR / f"{p}.in" for p in protocols}).items():
        if name not in PROTOCOLS:
            raise ValidationError(f"unknown protocol {name!r} for input {path}; use one of {', '.join(PROTOCOLS)}")
        if name == "npt" and not periodic:
            continue  # a molecule in vacuum has no pressure to control
        try:
            scripts[name] = check_input(Path(path))
        except (FileNotFoundError, ValueError) as exc:
            raise ValidationError(str(exc)) from exc
    return scripts


def _write_starts(atoms: Atoms, out: Path, elements: Sequence[str], seed: int) -> None:
    """``start.data`` for MD and a rattled ``start_min.data``, so that minimize has positions to relax."""
    write_data(atoms, out / "start.data", elements)
    rattled = atoms.copy()
    rattled.rattle(stdev=0.05, seed=seed % 2**32)
    write_data(rattled, out / "start_min.data", elements)


def _variables(*, steps: int, min_steps: int, temp: float, dt: float, seed: int, periodic: bool) -> Dict[str, dict]:
    """The input variables of MD runs (``md``) and of minimize (``minimize``)."""
    boundary = "p p p" if periodic else "s s s"
    md = {"temp": temp, "steps": steps, "dt": dt, "seed": seed, "every": md_every(steps), "boundary": boundary}
    minimize = {"steps": min_steps, "every": md_every(min_steps), "relax_box": int(periodic), "temp": temp,
                "boundary": boundary}
    return {"md": md, "minimize": minimize}


def _run_model(model: Model, protocol: str, script: str, *, out: Path, variables: Dict[str, dict],
               elements: Sequence[str], natoms: int, nprocs: int, explode: float, progress: bool) -> Run:
    """One protocol with one model in ``out/<protocol>/<model>/``; a Python teacher gets a bar
    of its MD steps (it is the slow one)."""
    minimize = protocol == "minimize"
    values = variables["minimize" if minimize else "md"]
    steps_bar = None
    if model.kind == "python" and not minimize:
        steps_bar = _tqdm(total=int(values["steps"]), desc=f"teacher {protocol}", disable=not progress,
                          leave=False, unit="step")
    run = run_protocol(model=model, protocol=protocol, script=script, workdir=out / protocol / model.label,
                       data=out / ("start_min.data" if minimize else "start.data"),
                       elements=elements, natoms=natoms, variables=values,
                       nprocs=1 if model.kind == "python" else nprocs, progress=steps_bar,
                       explode_temp_factor=explode)
    if steps_bar is not None:
        steps_bar.close()
    return run


def _run_all(scripts: Dict[str, str], models: Sequence[Model], *, system: str, progress: bool,
             **run_options) -> Dict[str, Dict[str, Run]]:
    """Every protocol with every model, the teacher (``models[0]``) first; a failing teacher
    run ends the validation, since there is nothing to compare the students with."""
    teacher = models[0]
    runs: Dict[str, Dict[str, Run]] = {}
    bar = _tqdm(total=len(scripts) * len(models), desc=f"{system} runs", disable=not progress, leave=False)
    for protocol, script in scripts.items():
        runs[protocol] = {}
        for model in models:
            bar.set_postfix_str(f"{protocol} {model.label}")
            run = _run_model(model, protocol, script, progress=progress, **run_options)
            bar.update(1)
            runs[protocol][model.label] = run
            if model is teacher and not run.ok:
                bar.close()
                why = run.error or "; ".join(run.unstable)
                raise ValidationError(f"the teacher's {protocol} run failed ({why}); see {run.workdir / 'log.lammps'}")
    bar.close()
    return runs


def _teacher_frames(runs: Mapping[str, Mapping[str, Run]]) -> tuple[List[Atoms], List[float]]:
    """Frames of the teacher's own MD trajectories and its energy on each."""
    frames, energies = [], []
    for protocol in ("nvt", "nve", "npt"):
        if protocol in runs:
            t_run = runs[protocol]["teacher"]
            frames += t_run.frames
            energies += compare.frame_energies(t_run)
    return frames, energies


def _compare_students(paths: Sequence[Path], labels: Dict[Path, str], runs, *, system: str, start: Atoms,
                      thresholds, device: str) -> List[Dict[str, object]]:
    """Every student's observables, checks and verdict; static accuracy on the teacher's MD frames."""
    frames, energies = _teacher_frames(runs)
    results = []
    for p in paths:
        static = None
        if frames:
            calc = StudentCalculator(p, device=device)
            static = compare.static_accuracy(frames=frames, energies=energies, calc=calc)
        res = compare.compare_student(student=labels[p], runs=runs, teacher="teacher", static=static,
                                      start=start, thresholds=thresholds)
        res.update(system=system, path=str(p.resolve()))
        results.append(res)
    return results


def validate_system(
    *,
    teacher,
    students: Sequence[str | Path],
    structure,
    out: str | Path,
    system: Optional[str] = None,
    protocols: Sequence[str] = DEFAULT_PROTOCOLS,
    inputs: Optional[Mapping[str, str | Path]] = None,
    steps: int = 50,
    min_steps: int = 40,
    temp: float = 300.0,
    dt: Optional[float] = None,
    seed: int = 4928459,
    nprocs: int = 1,
    device: str = "cpu",
    thresholds: Optional[Mapping[str, Optional[float]]] = None,
    progress: bool = True,
) -> Dict[str, object]:
    """Validate students against a teacher on one structure; returns this system's report.

    Args:
        teacher: registry name, ``student:FILE``, Teacher or ASE calculator (see :func:`teacher_model`).
        students: student ``.pt`` files.
        structure: ``Atoms``, a structure file or a demo name (``si``, ``gan``, ``ethanol``).
        out: folder for the runs (``out/<system>/<protocol>/<model>/``).
        system: name in the report (default: the demo name or the file stem).
        protocols: which of ``minimize``, ``nve``, ``nvt``, ``npt`` to run (shipped inputs).
        inputs: ``{protocol: input file}`` to use instead of the shipped inputs.
        steps: MD steps per run; min_steps: maximum minimiser iterations.
        temp: temperature in K; dt: timestep in ps (default 0.5 fs with hydrogen, else 1 fs).
        seed: velocity seed, the same for every model so all runs start identically.
        nprocs: MPI ranks for students and classical teachers.
        device: device of a Python teacher and of the students' static evaluation.
        thresholds: :func:`compare.load_thresholds` values (defaults when None).
        progress: show tqdm bars.
    """
    _check_lammps()
    thresholds = dict(thresholds or compare.default_thresholds())
    atoms = _prepare(_structure(structure))
    if system is None:
        system = _system_name(structure, atoms)
    elements = list(dict.fromkeys(atoms.get_chemical_symbols()))
    paths = [Path(s) for s in students]
    if not paths:
        raise ValidationError("no students given")
    metas = {p: _check_student(p, elements) for p in paths}
    labels = _labels(paths)
    periodic = all(atoms.pbc)
    scripts = _scripts(inputs, protocols, periodic)
    cutoff = max(m["cutoff"] for m in metas.values())
    t_model, t_desc = teacher_model(teacher, elements=elements, cutoff=cutoff, device=device)
    models = [t_model] + [Model(labels[p], "student", student_lines(model=p, elements=elements), path=p) for p in paths]

    out = Path(out) / system
    out.mkdir(parents=True, exist_ok=True)
    _write_starts(atoms, out, elements, seed)
    variables = _variables(steps=steps, min_steps=min_steps, temp=temp, seed=seed, periodic=periodic,
                           dt=dt or (0.0005 if "H" in elements else 0.001))
    runs = _run_all(scripts, models, system=system, progress=progress, out=out, variables=variables,
                    elements=elements, natoms=len(atoms), nprocs=nprocs,
                    explode=thresholds["explode_temp_factor"] or float("inf"))
    results = _compare_students(paths, labels, runs, system=system, start=atoms, thresholds=thresholds, device=device)
    nvt_teacher = runs.get("nvt", {}).get("teacher")
    t_desc["atom_steps_per_s"] = nvt_teacher.atom_steps_per_s if nvt_teacher else None
    t_desc["nve_drift"] = compare.drift(runs["nve"]["teacher"])["drift"] if "nve" in runs else None
    plots = [f"{system}/{name}" for name in
             report.plot_system(out=out, system=system, runs=runs, teacher="teacher", results=results, start=atoms)]
    return {"system": system, "natoms": len(atoms), "elements": elements, "teacher": t_desc,
            "protocols": list(scripts), "variables": variables,
            "runs": {p: {m: report.run_summary(r) for m, r in by.items()} for p, by in runs.items()},
            "results": results, "plots": plots}


def _labels(paths: Sequence[Path]) -> Dict[Path, str]:
    """Short unique run names: the file stem without ``_model_traced``, made unique."""
    labels: Dict[Path, str] = {}
    for p in paths:
        base = p.name.replace("_model_traced.pt", "").replace(".pt", "") or "student"
        if base == "teacher":
            base = "student_teacher"
        label, k = base, 2
        while label in labels.values():
            label, k = f"{base}_{k}", k + 1
        labels[p] = label
    return labels


def write_report(*, out: str | Path, systems: List[Dict[str, object]], thresholds, wall: float, settings=None,
                 checks: Optional[Dict[str, bool]] = None) -> Dict[str, object]:
    """Write ``report.json`` and ``report.md`` for all systems; returns the whole report.
    ``checks``: verdicts of the property and stability checks run beside the LAMMPS runs, which
    the overall verdict includes (their own reports are in the system folders)."""
    out = Path(out)
    results = [r for s in systems for r in s["results"]]
    checks = dict(checks or {})
    full = {"passed": all(r["passed"] for r in results) and all(checks.values()), "checks": checks,
            "wall_s": wall, "thresholds": thresholds,
            "settings": settings or {}, "systems": systems, "results": results,
            "plots": [p for s in systems for p in s["plots"]]}
    report.write_json(out / "report.json", full)
    full["table"] = report.write_markdown(out / "report.md", full)
    return full


__all__ = ["validate_system", "write_report", "teacher_model", "ValidationError"]
