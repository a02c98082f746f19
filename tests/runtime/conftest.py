"""Fixtures of the runtime tests; what they share besides fixtures is runtime_harness.py."""

from pathlib import Path

import pytest
import torch

from pair_student.runtime.plugin import PLUGIN_NAME, plugin_dir
from runtime_harness import SYSTEMS, make_model, write_data

if not (Path(plugin_dir()) / PLUGIN_NAME).is_file():
    pytest.skip("pair_style student plugin is not built; run install.sh", allow_module_level=True)


@pytest.fixture(autouse=True)
def _single_thread(monkeypatch):
    torch.set_num_threads(1)


@pytest.fixture
def gan_dir(tmp_path):
    build, elements, _ = SYSTEMS["gan"]
    write_data(build(), tmp_path / "system.data", elements)
    make_model(tmp_path / "model.pt", elements)
    return tmp_path
