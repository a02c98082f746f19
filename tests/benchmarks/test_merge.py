"""scripts/merge_bench.py: later runs replace or extend potentials of earlier ones."""

import importlib.util
from pathlib import Path

spec = importlib.util.spec_from_file_location("merge_bench", Path(__file__).parents[2] / "scripts" / "merge_bench.py")
merge_bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(merge_bench)


def _run(potentials, teacher=None):
    system = {"potentials": potentials, **({"teacher": teacher} if teacher else {})}
    return {"settings": {"sizes": []}, "notes": [], "systems": {"si": system}}


def _pot(name, rows, rmse=0.1):
    return {"name": name, "kind": "student", "accuracy": {"force_rmse": rmse},
            "speed": [{"natoms": n, "nprocs": p, "us_per_atom_step": us} for n, p, us in rows]}


def test_replace_extend_and_add():
    first = _run([_pot("a", [(1000, 1, 5.0), (10000, 1, 6.0), (10000, 2, 3.0)]), _pot("SW", [(1000, 1, 1.0)])],
                 teacher={"us_per_atom_step": 7000.0})
    second = _run([_pot("a", [(100000, 1, 6.5)]), _pot("UF3", [(1000, 1, 9.0)], rmse=0.05)])
    third = _run([_pot("SW", [(1000, 1, 0.9)])])
    merged = merge_bench.merge([first, second, third])["systems"]["si"]
    pots = {p["name"]: p for p in merged["potentials"]}
    assert sorted(pots) == ["SW", "UF3", "a"]
    speeds = {(r["natoms"], r["nprocs"]): r["us_per_atom_step"] for r in pots["a"]["speed"]}
    assert speeds == {(1000, 1): 5.0, (10000, 1): 6.0, (10000, 2): 3.0, (100000, 1): 6.5}  # extended
    assert pots["SW"]["speed"] == [{"natoms": 1000, "nprocs": 1, "us_per_atom_step": 0.9}]  # replaced
    assert merged["teacher"]["us_per_atom_step"] == 7000.0


def test_a_run_on_other_test_frames_replaces_the_system():
    first = _run([_pot("a", [(1000, 1, 5.0)]), _pot("DeePMD", [(1000, 1, 9.0)])])
    first["systems"]["si"].update(test_frames=32)
    second = _run([_pot("a", [(10000, 1, 6.0)], rmse=0.2)])
    second["systems"]["si"].update(test_frames=67, test_digest="abc")
    merged = merge_bench.merge([first, second])["systems"]["si"]
    assert [p["name"] for p in merged["potentials"]] == ["a"]  # nothing kept from the other frames
    assert merged["potentials"][0]["speed"] == [{"natoms": 10000, "nprocs": 1, "us_per_atom_step": 6.0}]
    third = _run([_pot("DeePMD", [(1000, 1, 8.0)])])
    third["systems"]["si"].update(test_frames=67, test_digest="abc")
    merged = merge_bench.merge([second, third])["systems"]["si"]
    assert sorted(p["name"] for p in merged["potentials"]) == ["DeePMD", "a"]  # same frames: merged


def test_the_cpu_of_the_latest_run_is_kept():
    first = _run([_pot("a", [(1000, 1, 5.0)])])
    first["systems"]["si"]["cpu"] = "Intel Xeon"
    second = _run([_pot("a", [(1000, 1, 4.0)])])
    second["systems"]["si"]["cpu"] = "AMD EPYC"
    assert merge_bench.merge([first, second])["systems"]["si"]["cpu"] == "AMD EPYC"
    assert merge_bench.merge([second, _run([_pot("a", [(1000, 1, 4.0)])])])["systems"]["si"]["cpu"] == "AMD EPYC"
