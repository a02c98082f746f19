"""The registry: sizes, demo systems and targets every stage shares, and the demo builders that
must match it."""

import pytest

from pair_student.data import structures
from pair_student.registry import (DEFAULT_SIZE, DEMO_DIR, DEMO_NAMES, DEMO_SYSTEMS, QUALITY_TARGETS, SIZES,
                                   SPEED_TARGETS_VS_SW, demo_for_elements, size_of, target_status)


def test_tables_agree_with_each_other():
    assert list(QUALITY_TARGETS) == list(SIZES)  # every size has a target, in the same order
    assert set(SPEED_TARGETS_VS_SW) <= set(SIZES) and DEFAULT_SIZE in SIZES
    assert DEMO_NAMES == tuple(DEMO_SYSTEMS)
    assert all(system.name == name for name, system in DEMO_SYSTEMS.items())
    assert DEMO_DIR.is_dir()


@pytest.mark.parametrize("name,size", [
    ("ultra_tiny_traced", "ultra-tiny"),  # "tiny" is inside "ultra-tiny": the longer name wins
    ("ultra-tiny_model_traced.pt", "ultra-tiny"),
    ("tiny_model_traced.pt", "tiny"),
    ("Original_checkpoint", "original"),
    ("student", None),
    ("", None),
    (None, None),
])
def test_size_of(name, size):
    assert size_of(name) == size


def test_target_status_at_and_beyond_each_bound():
    for size, goal in QUALITY_TARGETS.items():
        expected_target = {"force_r2_min": goal.force_r2_min, "angular_mean_max_deg": goal.angular_mean_max_deg}
        at_bounds = target_status(size, goal.force_r2_min, goal.angular_mean_max_deg)
        assert at_bounds == {"size": size, "target": expected_target, "status": "pass"}
        assert target_status(size, goal.force_r2_min - 1e-6, 0.0)["status"] == "fail"
        assert target_status(size, 1.0, goal.angular_mean_max_deg + 1e-6)["status"] == "fail"
        assert target_status(size, None, 0.0)["status"] == "fail"  # a metric that could not be computed
        assert target_status(size, 1.0, None)["status"] == "fail"
    assert target_status("mine", 1.0, 0.0) == {"size": None, "target": None, "status": "report only"}


def test_demo_for_elements():
    for name, system in DEMO_SYSTEMS.items():
        assert demo_for_elements(system.elements) == name
        assert demo_for_elements(reversed(system.elements)) == name  # any order
    assert demo_for_elements(["N", "Ga"]) == "gan"
    assert demo_for_elements(["Ga"]) is None  # a subset is not the system
    assert demo_for_elements(["Si", "C"]) is None
    assert demo_for_elements([]) is None


def test_every_demo_system_has_a_builder_with_the_registrys_elements_and_periodicity():
    assert set(structures._BUILDERS) == set(DEMO_NAMES)
    for name, system in DEMO_SYSTEMS.items():
        atoms = structures.demo_structure(name)
        assert sorted(set(atoms.get_chemical_symbols())) == sorted(system.elements), name
        assert list(atoms.pbc) == [system.periodic] * 3, name
        assert atoms.info["system"] == name
