"""``benchmarks.floor``: students and the classical floor timed in alternating rounds."""

from __future__ import annotations

import json

import pytest

from benchmarks import floor


def test_alternating_rounds_give_a_ratio_per_round_and_a_table(tmp_path):
    result = floor.interleaved("si", 64, rounds=2, out=tmp_path, target_s=0.05, dtype="float32", log=lambda m: None)
    names = set(result["us_per_atom_step"])
    assert "SW" in names and any(n.startswith("student ultra-tiny") for n in names)
    assert all(len(t) == 2 and min(t) > 0 for t in result["us_per_atom_step"].values())
    for row in result["ratios"]:
        assert row["floor"] == "SW" and len(row["per_round"]) == 2
        times = result["us_per_atom_step"]
        assert row["best_time_ratio"] == pytest.approx(min(times[row["student"]]) / min(times["SW"]))
        assert min(row["per_round"]) <= row["median_ratio"] <= max(row["per_round"])
    table = floor.markdown(result)
    assert table.count("| SW |") == len(result["ratios"]) > 0
    json.dumps(result)


def test_a_system_without_a_classical_potential_is_refused(tmp_path):
    with pytest.raises(ValueError, match="ethanol has no classical potential"):
        floor.interleaved("ethanol", 64, 1, tmp_path, 0.05, "float32")


def test_peers_are_timed_in_the_same_rounds_and_get_their_own_ratios(tmp_path):
    from dataclasses import replace

    from benchmarks.potentials import classical_potentials

    fit = tmp_path / "fit.json"  # the shape a benchmark's peer fit leaves behind
    fit.write_text(json.dumps({"potential": replace(classical_potentials("si")[0], name="peer", kind="peer").to_json()}))
    assert floor.main(["--system", "si", "--natoms", "64", "--rounds", "2", "--target-s", "0.05",
                       "--out", str(tmp_path / "out"), "--peer-fits", str(fit)]) == 0
    result = json.loads((tmp_path / "out" / "floor_si.json").read_text())
    assert len(result["us_per_atom_step"]["peer"]) == 2
    against = {r["floor"] for r in result["ratios"]}
    assert against == {"SW", "peer"}
    students = {r["student"] for r in result["ratios"]}
    assert len(result["ratios"]) == 2 * len(students) > 0


def test_a_file_that_is_not_a_fit_record_is_refused_by_name(tmp_path, capsys):
    bad = tmp_path / "bench.json"
    bad.write_text("{}")
    with pytest.raises(SystemExit):
        floor.main(["--peer-fits", str(bad), "--out", str(tmp_path / "out")])
    assert f"{bad} is not a peer fit record" in capsys.readouterr().err
