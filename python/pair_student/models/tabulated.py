"""A :class:`LocalStudent` whose radial network is replaced by cubic Hermite tables.

The radial weights of an edge depend only on its length and on the ordered element pair,
so they can be tabulated once at export, as DeePMD-kit's ``compress`` does for its embedding
net: ``points + 1`` equally spaced nodes on ``[0, cutoff]``, each holding the value and the
exact derivative (from autograd) of every output of :meth:`LocalStudent.radial`. Between nodes
the cubic Hermite interpolant is C1, so forces stay continuous and MD conserves energy; its
error falls as ``spacing**4`` (export measures it on its verification frames).

The tabulated model is a TorchScript student like any other (Python, ASE, ``pair_style
student`` through libtorch, CUDA). On CPU the pair style recognises its tables
(:data:`TABLE_ATTRIBUTES`) and runs them in a native kernel without autograd over edges:
moments, then :meth:`LocalStudent.energy_from_moments` and its gradient per atom, then the
edge gradients in closed form.
"""

from __future__ import annotations

import copy
from typing import Dict

import torch

from .local import LocalStudent

DEFAULT_POINTS = 256
TABLE_ATTRIBUTES = ("radial_values", "radial_slopes", "table_spacing", "table_points", "lmax", "channels",
                    "num_elements", "mix", "sh2_cubic", "shift", "scale", "element_bias", "readout_in.weight",
                    "readout_in.bias", "readout_hidden", "readout_out.weight", "readout_out.bias")
"""What makes a file tabulated: every attribute the native kernel of ``pair_style student`` reads
(``a.b``: attribute ``b`` of submodule ``a``; a quantized readout has no ``weight``). The C++ side
holds the same list (``tabulated_attributes`` in ``pair_student/student_native_load.cpp``);
``tests/runtime/test_tabulated_agreement.py`` checks that the two agree."""

# the radial network of every radial_mode (models/local.py), whichever of them the student has
_RADIAL_MODULES = ("radial_in", "pair_bias", "radial_mid", "radial_out", "pair_scale", "pair_in_weight",
                   "pair_in_bias", "pair_mid_weight", "pair_mid_bias", "pair_out_weight")


class TabulatedStudent(LocalStudent):
    """``student`` with its radial MLP sampled on ``points`` intervals; built by :func:`tabulate`."""

    def __init__(self, student: LocalStudent, points: int = DEFAULT_POINTS):
        if not isinstance(student, LocalStudent) or isinstance(student, TabulatedStudent):
            raise TypeError(f"only a LocalStudent can be tabulated, got {type(student).__name__}")
        if points < 8:
            raise ValueError(f"points must be >= 8 for a useful table, got {points}")
        config = student.config()
        # the core windows may change after tabulation (set_core_repulsion): config() adds them live
        self._config = {k: v for k, v in config.items() if k not in ("core_inner", "core_outer")}
        self._config["tabulated_points"] = int(points)
        config.pop("architecture")
        super().__init__(**config)
        self.load_state_dict(student.state_dict())
        self.to(next(student.parameters()).dtype)
        if student.has_uncertainty():  # non-persistent, so the state dict leaves it behind
            self.set_uncertainty(student.uncertainty_mean, student.uncertainty_whiten, student.uncertainty_calibration)
        values, slopes = _sample_radial(self, points)
        for name in _RADIAL_MODULES:
            if hasattr(self, name):
                delattr(self, name)
        # rows: pair * (points + 1) + node; slopes are d/dr times the spacing (Hermite form)
        self.register_buffer("radial_values", values)
        self.register_buffer("radial_slopes", slopes)
        self.table_points = int(points)
        self.table_spacing = self.cutoff / points

    def config(self) -> Dict[str, object]:
        return {**self._config, **self.core_config()}

    def radial(self, r: torch.Tensor, pair: torch.Tensor) -> torch.Tensor:
        x = r / self.table_spacing
        node = torch.clamp(torch.floor(x.detach()), 0.0, float(self.table_points - 1))
        t = (x - node).unsqueeze(1)
        row = pair * (self.table_points + 1) + node.long()
        y0, y1 = self.radial_values[row], self.radial_values[row + 1]
        d0, d1 = self.radial_slopes[row], self.radial_slopes[row + 1]
        t2 = t * t
        t3 = t2 * t
        w = (2.0 * t3 - 3.0 * t2 + 1.0) * y0 + (t3 - 2.0 * t2 + t) * d0 + (3.0 * t2 - 2.0 * t3) * y1 + (t3 - t2) * d1
        return w.view(-1, self.num_l, self.channels)


def _sample_radial(student: LocalStudent, points: int):
    """Values and spacing-scaled derivatives of ``LocalStudent.radial`` at the table nodes,
    computed in float64 and returned in the student's dtype."""
    dtype = next(student.parameters()).dtype
    source = copy.deepcopy(student).double()
    n, width = source.num_elements, source.num_l * source.channels
    spacing = source.cutoff / points
    r = torch.arange(points + 1, dtype=torch.float64) * spacing
    r[0] = 1e-9 * spacing  # the Bessel basis is sin(kr)/r: take its limit at the origin
    values, slopes = [], []
    for pair in range(n * n):
        index = torch.full((points + 1,), pair, dtype=torch.long)
        # each row depends on its own r only, so a forward-mode derivative along ones is d/dr
        v, dv = torch.func.jvp(lambda x: LocalStudent.radial(source, x, index).reshape(-1, width), (r,), (torch.ones_like(r),))
        values.append(v.detach())
        slopes.append(dv.detach() * spacing)
    return torch.cat(values).to(dtype), torch.cat(slopes).to(dtype)


def tabulate(student: LocalStudent, points: int = DEFAULT_POINTS) -> TabulatedStudent:
    """A copy of ``student`` with tabulated radial weights, in ``eval`` mode."""
    return TabulatedStudent(student, points).eval()


def is_tabulated(module: torch.nn.Module) -> bool:
    """True for a :class:`TabulatedStudent` or a TorchScript file made from one (unquantized):
    the files ``pair_style student`` can run in its native kernel."""
    return all(_has_path(module, name) for name in TABLE_ATTRIBUTES)


def _has_path(module, dotted: str) -> bool:
    for name in dotted.split("."):
        if not hasattr(module, name):
            return False
        module = getattr(module, name)
    return True
