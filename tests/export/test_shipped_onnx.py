"""Every shipped student has an ONNX file beside it that is the same function as its .pt."""

import json

import pytest
import torch

from pair_student.contract import read_metadata
from pair_student.export import TOLERANCE, sample_frames, verification_graphs
from pair_student.export.verify import differences, onnx_runner, torchscript_runner
from pair_student.models.shipped import shipped_models

SHIPPED = [(system, size, path) for system, sizes in shipped_models().items() for size, path in sizes.items()]


def test_all_demo_students_are_found():
    assert len(SHIPPED) == 9, SHIPPED


@pytest.mark.parametrize("system,size,pt", SHIPPED, ids=[f"{s}/{z}" for s, z, _ in SHIPPED])
def test_shipped_onnx_matches_its_torchscript_file(system, size, pt):
    import onnx

    path = pt.with_name(f"{size}_model.onnx")
    assert path.is_file(), (
        f"no {path.name} beside {pt.name}: pair-student export {pt} --format onnx --out {pt.parent}")
    meta = read_metadata(pt)
    props = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    assert props["elements"].split() == meta["elements"]
    assert float(props["cutoff"]) == meta["cutoff"]
    # everything but the uncertainty, which the ONNX graph does not compute
    assert json.loads(props["provenance"]) == {k: v for k, v in meta["provenance"].items() if k != "uncertainty"}
    assert props["dtype"] == "float64" and int(props["num_layers"]) == meta["num_layers"]
    # a rattled cell, once with all atoms local and once with a third of them as ghosts
    cell = sample_frames(meta["elements"], seed=11)[:1]
    graphs = verification_graphs(cell, meta["elements"], meta["cutoff"], torch.float64)
    diff = differences(onnx_runner(path), torchscript_runner(pt, torch.float64), graphs)
    assert max(diff.values()) < TOLERANCE["float64"], diff
