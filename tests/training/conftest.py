"""Fixtures of the training tests."""

import pytest

from _training_helpers import make_dataset


@pytest.fixture(scope="session")
def dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("data") / "emt.extxyz")
