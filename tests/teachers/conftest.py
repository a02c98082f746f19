import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest
import torch

torch.set_num_threads(1)  # the CI box has 2 cores shared by several jobs


@pytest.fixture(scope="session")
def sevennet_teacher():
    pytest.importorskip("sevenn")
    from pair_student.teachers import get_teacher

    return get_teacher("sevennet")
