"""C++ and Python agree on what makes a file tabulated: ``pair_style student`` (kernel auto) runs
a file in its native kernel exactly when ``pair_student.models.tabulated.is_tabulated`` says it is
tabulated, for untabulated, tabulated and shipped files and for tabulated ones that lack any one
required attribute; and the C++ list of required attributes is ``TABLE_ATTRIBUTES`` itself."""

import copy
import re
from typing import Optional, Tuple

import pytest
import torch

from runtime_harness import SYSTEMS, write_data
from pair_student.contract import save_student
from pair_student.models import LocalStudent
from pair_student.models.shipped import shipped_models
from pair_student.models.tabulated import TABLE_ATTRIBUTES, is_tabulated, tabulate
from pair_student.runtime.runner import run_lammps

ELEMENTS = ["Ga", "N"]
META = {"elements": ELEMENTS, "cutoff": 4.5}


def local_student() -> LocalStudent:
    torch.manual_seed(0)
    return LocalStudent(ELEMENTS, 4.5, channels=5, radial_hidden=8, hidden=12, lmax=2).double()


class Holder(torch.nn.Module):
    """Tensors as buffers and nothing to call: a readout layer with one of its tensors gone."""

    def __init__(self, tensors):
        super().__init__()
        for name, value in tensors.items():
            self.register_buffer(name, value.detach().clone())


class Shown(torch.nn.Module):
    """A tabulated student's forward behind a module that shows, as its own attributes, copies of
    every attribute of TABLE_ATTRIBUTES but ``missing``: the file still runs (in libtorch)."""

    def __init__(self, table: torch.nn.Module, missing: Optional[str] = None):
        super().__init__()
        self.inner = table
        for name in dict.fromkeys(attribute.split(".")[0] for attribute in TABLE_ATTRIBUTES):
            if name == missing:
                continue
            value = copy.deepcopy(getattr(table, name))
            if missing is not None and missing.startswith(name + "."):
                gone = missing.split(".", 1)[1]
                value = Holder({k: v for k, v in value.named_parameters() if k != gone})
            if isinstance(value, torch.Tensor) and not isinstance(value, torch.nn.Parameter):
                self.register_buffer(name, value)
            else:
                setattr(self, name, value)

    def forward(self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor,
                num_local: int) -> Tuple[torch.Tensor, torch.Tensor]:
        return self.inner(species, edge_index, edge_vectors, num_local)


def models(folder):
    """{file name: path} of every case; the shipped GaN students as they are."""
    student = local_student()
    table = tabulate(student, 32)
    files = {"untabulated.pt": student, "tabulated.pt": table, "shown.pt": Shown(table)}
    files.update({f"without-{name}.pt": Shown(table, name) for name in TABLE_ATTRIBUTES})
    paths = {name: save_student(module, folder / name, META) for name, module in files.items()}
    paths.update({f"shipped-gan-{size}.pt": path for size, path in shipped_models()["gan"].items()})
    return paths


def kernels_in_lammps(workdir, paths):
    """{file name: the kernel line LAMMPS logged}, every file in turn in one lmp run."""
    build, _, _ = SYSTEMS["gan"]
    workdir.mkdir()
    write_data(build(), workdir / "system.data", ELEMENTS)
    blocks = [f"pair_style student {path}\npair_coeff * * Ga N\nrun 0\n" for path in paths.values()]
    script = "units metal\natom_style atomic\nboundary p p p\nread_data system.data\n" + "".join(blocks)
    output = run_lammps(script, workdir=workdir).check().output
    logged = dict(re.findall(r"pair_style student: (\S+) \((.*)\)\n", output))
    return {name: logged[str(path)] for name, path in paths.items()}


def test_native_kernel_exactly_for_the_files_python_calls_tabulated(tmp_path):
    paths = models(tmp_path)
    logged = kernels_in_lammps(tmp_path / "run", paths)
    for name, path in paths.items():
        tabulated = is_tabulated(torch.jit.load(str(path)))
        native = "native kernel" in logged[name]
        assert native == tabulated, f"{name}: is_tabulated {tabulated}, LAMMPS ran {logged[name]!r}"
    # the files that lack one attribute fail on that very attribute, on both sides
    for name in TABLE_ATTRIBUTES:
        assert f"not tabulated: no '{name}'" in logged[f"without-{name}.pt"]
    assert "not tabulated: no 'radial_values'" in logged["untabulated.pt"]
    assert all(is_tabulated(torch.jit.load(str(p))) for sizes in shipped_models().values() for p in sizes.values())


def test_the_cpp_list_of_attributes_is_table_attributes(tmp_path):
    path = save_student(local_student(), tmp_path / "untabulated.pt", META)
    build, _, _ = SYSTEMS["gan"]
    write_data(build(), tmp_path / "system.data", ELEMENTS)
    script = ("units metal\natom_style atomic\nboundary p p p\nread_data system.data\n"
              f"pair_style student {path} kernel native\npair_coeff * * Ga N\nrun 0\n")
    result = run_lammps(script, workdir=tmp_path)
    assert result.returncode != 0 and result.error is not None
    listed = re.search(r"a tabulated student has all of: ([^)]*)\)", result.error)
    assert listed, result.error
    assert tuple(listed.group(1).split(", ")) == TABLE_ATTRIBUTES


@pytest.mark.parametrize("missing", ["mix", "readout_in.weight"])
def test_python_alone_sees_a_missing_attribute(missing):
    table = tabulate(local_student(), 32)
    assert is_tabulated(torch.jit.script(Shown(table)))
    assert not is_tabulated(torch.jit.script(Shown(table, missing)))
