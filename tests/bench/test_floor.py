"""``bench.floor``: students and the classical floor timed in alternating rounds."""

from __future__ import annotations

import json

import pytest

from pair_student.bench import floor


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
