"""``local``: a strictly local ACE/MACE-single-layer-like student (``num_layers == 1``).

Per atom ``i`` with neighbours ``j`` inside ``cutoff``::

    b_n(r)      = sqrt(2/rc) sin(n pi r / rc) / r                        Bessel basis
    R_c^l(r)    = fc(r) * MLP([b(r)] ; bias of the (z_i, z_j) pair)      l = 0, 1, 2 radial weights
    A0_ic       = sum_j R_c^0                                           scalar moment
    A1_ic       = sum_j R_c^1 u_ij                                      vector moment (u = r / |r|)
    A2_ic       = sum_j R_c^2 (u u^T - I/3)                             traceless rank-2 moment
    A3_ic       = sum_j R_c^3 u (x) u (x) u                             rank-3 moment (lmax 3)
    features    = A0, A1.W1A1, A2:W2A2, A3:W5A3 (3-body), A1^T (W3A2) A1, tr(A2 A2 W4A2) (4-body)

``lmax`` 3 is offered for tetrahedral crystals (diamond Si, wurtzite GaN): by their point
symmetry the l = 1 and l = 2 moments of every neighbour shell vanish at the ideal lattice, and
``A3:A3 = sum_jk R R' cos^3`` is the first 3-body term that resolves those angles directly. On
the Si demo data it did not pay for itself (ultra-tiny, 12 epochs: validation force RMSE 0.069
vs 0.063 eV/A for lmax 2, at 1.6x the time per epoch), so the presets use lmax 2.
    E_i         = scale * MLP_zi(features) + shift[z_i]

``radial_mode`` sets how far the radial weights resolve the element pair; every mode is a
function of ``(r, pair)`` only, so export tabulates it per ordered pair and the native kernel
runs all of them at the cost of ``shared``:

* ``shared``: one MLP for all pairs, the pair enters as a bias of its first layer (the only
  mode before it existed, and what a config without ``radial_mode`` rebuilds);
* ``pair_scale``: ``shared`` times a learned weight per pair, l and channel;
* ``pair_out``: the output layer per pair, so the channels of a neighbour species are their
  own linear combination of the shared hidden features (ACE's per-pair radial coefficients);
* ``pair_mlp``: the whole MLP per pair.

New models stay ``shared`` because no per-pair mode won clearly on ethanol (tiny, 8 Bessel
functions, seed 0, 30 epochs each): on the 56 test frames that are not rattles the force MAE fell
from 0.099 eV/A to 0.074 (pair_out), 0.079 (pair_mlp) and 0.089 (pair_scale), the mean angular
error from 6.4 to 4.0, 4.9 and 5.5 degrees; but on the 11 rattled frames the RMSE rose from 0.57
to 1.67, 0.86 and 1.08 eV/A, so the test RMSE got worse (0.27 against 0.69, 0.37 and 0.46): a
radial function of one pair, fitted from that pair's edges only, extrapolates worse into squeezed
bonds. A training step costs +29 % (pair_out), +66 % (pair_mlp) and +3 % (pair_scale) on
ethanol batches (144 edges), +1 to +15 % on GaN ones (6400 edges). On GaN, the case of issue 22
(Tersoff teacher, 200 frames of 72 atoms, ultra-tiny, 16 epochs each), pair_out lowered the test
force RMSE from 0.64 to 0.53 eV/A, the MAE from 0.250 to 0.228 and the energy MAE from 9.4 to 4.7
meV/atom (8 epochs: 0.68 to 0.57); try ``--model '{"radial_mode": "pair_out"}'`` there, and make
it the presets' mode once the sevennet GaN set confirms it.

The Cartesian moments are the l <= 2 spherical-harmonic moments of ACE written as tensors;
the channel mixings ``W`` make the invariants products across channels, not only squares.
Only local atoms are centres, so under MPI LAMMPS needs one ghost shell of ``cutoff`` and the
model parallelises like DeePMD/ACE. ``shift`` (least squares of energy vs composition) and
``scale`` (force RMS) are buffers fitted from data by the trainer, so the network itself learns
O(1) numbers; ``avg_num_neighbors`` normalises the moments for the same reason.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Optional, Sequence, Tuple

import torch
from ase.data import atomic_numbers

from .base import StudentModel, polynomial_cutoff
from .repulsion import switch, zbl

SQRT2 = math.sqrt(2.0)
SQRT6 = math.sqrt(6.0)

# Sizes near the earlier attempt's students; ``python -m benchmarks profile --presets`` (from a
# checkout) prints their parameter counts and CPU cost.
PRESETS: Dict[str, Dict[str, Any]] = {
    # params for one element: original 432K, tiny 77.6K, ultra-tiny 27.5K. 24 Bessel functions (not
    # 8) resolve the short distances of strongly distorted frames: on Si, ultra-tiny's validation
    # force RMSE after 600 s fell from 0.049 to 0.040 eV/A, and in LAMMPS the radial network is a
    # table, so the basis size costs nothing per step (one ethanol `original` run at 24 trained
    # unstably at lr 3e-3: demo/README.md, "How these students were made"). Per-edge cost grows with
    # channels (128 channels ran 3x slower than 64 at equal params), per-atom cost with hidden,
    # so the large preset spends its parameters in the readout MLP.
    "original": {"channels": 64, "num_basis": 24, "radial_hidden": 64, "hidden": 372, "readout_layers": 3, "lmax": 2},
    "tiny": {"channels": 46, "num_basis": 24, "radial_hidden": 64, "hidden": 144, "readout_layers": 2, "lmax": 2},
    "ultra-tiny": {"channels": 22, "num_basis": 24, "radial_hidden": 64, "hidden": 80, "readout_layers": 2, "lmax": 2},
}

RADIAL_MODES = ("shared", "pair_scale", "pair_out", "pair_mlp")


class LocalStudent(StudentModel):
    """Local equivariant-moment student; ``preset`` picks sizes, explicit kwargs override them."""

    def __init__(
        self,
        elements: Sequence[str],
        cutoff: float = 5.0,
        preset: Optional[str] = None,
        channels: Optional[int] = None,
        num_basis: Optional[int] = None,
        radial_hidden: Optional[int] = None,
        hidden: Optional[int] = None,
        readout_layers: Optional[int] = None,
        lmax: Optional[int] = None,
        envelope_p: int = 6,
        num_layers: int = 1,
        radial_mode: Optional[str] = None,
        core_inner: Optional[Sequence[float]] = None,
        core_outer: Optional[Sequence[float]] = None,
    ):
        super().__init__()
        # a preset (default "tiny") gives the sizes; any size given explicitly wins over it
        name = "tiny" if preset is None else preset
        if name not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; known: {sorted(PRESETS)}")
        given = {"channels": channels, "num_basis": num_basis, "radial_hidden": radial_hidden,
                 "hidden": hidden, "readout_layers": readout_layers, "lmax": lmax}
        sizes = dict(PRESETS[name])
        # only a preset named explicitly picks the mode: a saved config names no preset, and
        # one written before radial_mode existed must rebuild its shared network
        preset_mode = sizes.pop("radial_mode", "shared")
        if radial_mode is None:
            radial_mode = preset_mode if preset is not None else "shared"
        if radial_mode not in RADIAL_MODES:
            raise ValueError(f"unknown radial_mode {radial_mode!r}; known: {', '.join(RADIAL_MODES)}")
        sizes.update({k: int(v) for k, v in given.items() if v is not None})
        channels, num_basis, radial_hidden = sizes["channels"], sizes["num_basis"], sizes["radial_hidden"]
        hidden, readout_layers, lmax = sizes["hidden"], sizes["readout_layers"], sizes["lmax"]
        if num_layers != 1:
            raise ValueError("the local student is strictly local: num_layers must be 1")
        if lmax not in (1, 2, 3):
            raise ValueError(f"lmax must be 1, 2 or 3, got {lmax}")
        if readout_layers < 1:
            raise ValueError("readout_layers must be >= 1")
        self.elements = list(elements)
        self.cutoff = float(cutoff)
        self.num_layers = 1
        self.lmax = int(lmax)
        self.channels = int(channels)
        self.envelope_p = int(envelope_p)
        n = len(self.elements)
        self.num_elements = n
        self.num_l = self.lmax + 1

        self.register_buffer("frequencies", math.pi / self.cutoff * torch.arange(1, num_basis + 1, dtype=torch.float32))
        self.radial_mode = radial_mode
        self.radial_hidden = int(radial_hidden)
        self._build_radial(num_basis, self.radial_hidden, self.num_l * channels)
        # channel mixings: the second factor of each product invariant
        num_mix = {1: 1, 2: 4, 3: 5}[self.lmax]
        self.mix = torch.nn.Parameter(torch.eye(channels).repeat(num_mix, 1, 1) + 0.1 * torch.randn(num_mix, channels, channels) / math.sqrt(channels))
        num_features = channels * {1: 2, 2: 5, 3: 6}[self.lmax]
        # readout: first layer with a per-element bias, i.e. a per-element MLP at shared cost
        self.readout_in = torch.nn.Linear(num_features, hidden)
        self.element_bias = torch.nn.Parameter(torch.zeros(n, hidden))
        self.readout_hidden = torch.nn.ModuleList([torch.nn.Linear(hidden, hidden) for _ in range(readout_layers - 1)])
        self.readout_out = torch.nn.Linear(hidden, 1)
        self.act = torch.nn.SiLU()
        basis = torch.zeros(5, 3, 3)
        basis[0, 0, 1] = basis[0, 1, 0] = basis[1, 1, 2] = basis[1, 2, 1] = basis[2, 0, 2] = basis[2, 2, 0] = 1 / SQRT2
        basis[3, 0, 0], basis[3, 1, 1] = 1 / SQRT2, -1 / SQRT2
        basis[4, 0, 0], basis[4, 1, 1], basis[4, 2, 2] = -1 / SQRT6, -1 / SQRT6, 2 / SQRT6
        self.register_buffer("sh2_basis", basis.reshape(5, 9))
        # T[p, m * 5 + n] = tr(B_m B_n B_p): the cubic invariant of traceless symmetric matrices
        b64 = basis.double()
        cubic = torch.einsum("mij,njk,pki->pmn", b64, b64, b64).reshape(5, 25).to(basis.dtype)
        self.register_buffer("sh2_cubic", cubic, persistent=False)
        self.register_buffer("shift", torch.zeros(n))
        self.register_buffer("scale", torch.ones(()))
        self.register_buffer("avg_num_neighbors", torch.ones(()))
        # core repulsion (models/repulsion.py): the windows live in config(), so checkpoints and
        # files of students without them load unchanged, with the repulsion off (outer = 0);
        # made in float64 so that a float64 student holds its config's windows exactly
        f64 = torch.float64
        self.register_buffer("core_z", torch.tensor([float(atomic_numbers[e]) for e in self.elements], dtype=f64),
                             persistent=False)
        self.register_buffer("core_inner", torch.zeros(n * n, dtype=f64), persistent=False)
        self.register_buffer("core_outer", torch.zeros(n * n, dtype=f64), persistent=False)
        # uncertainty statistics (models/uncertainty.py), fitted at export; empty: none
        for name, shape in (("uncertainty_mean", (0, num_features)), ("uncertainty_whiten", (0, num_features, num_features)),
                            ("uncertainty_calibration", (2,))):
            self.register_buffer(name, torch.zeros(shape), persistent=False)
        if core_outer is not None:
            self.set_core_repulsion(torch.as_tensor(core_inner, dtype=torch.float64),
                                    torch.as_tensor(core_outer, dtype=torch.float64))

    def _build_radial(self, num_basis: int, hidden: int, width: int) -> None:
        """The radial network of :attr:`radial_mode`. Only the layers a mode uses exist, so a
        ``shared`` model has exactly the weights of a model from before the modes."""
        pairs = self.num_elements * self.num_elements
        if self.radial_mode == "pair_mlp":
            self.pair_in_weight = _pair_param(pairs, num_basis, num_basis, hidden)
            self.pair_in_bias = _pair_param(pairs, num_basis, hidden)
            self.pair_mid_weight = _pair_param(pairs, hidden, hidden, hidden)
            self.pair_mid_bias = _pair_param(pairs, hidden, hidden)
            self.pair_out_weight = _pair_param(pairs, hidden, hidden, width)
            return
        # a learned bias of the first layer per (z_i, z_j) makes even the shared MLP pair-aware
        self.radial_in = torch.nn.Linear(num_basis, hidden)
        self.pair_bias = torch.nn.Parameter(torch.zeros(pairs, hidden))
        self.radial_mid = torch.nn.Linear(hidden, hidden)
        if self.radial_mode == "pair_out":
            self.pair_out_weight = _pair_param(pairs, hidden, hidden, width)
            return
        self.radial_out = torch.nn.Linear(hidden, width, bias=False)
        if self.radial_mode == "pair_scale":
            self.pair_scale = torch.nn.Parameter(torch.ones(pairs, width))

    def config(self) -> Dict[str, Any]:
        """Constructor kwargs that rebuild this model (what checkpoints store)."""
        config = {
            "architecture": "local", "elements": list(self.elements), "cutoff": self.cutoff,
            "channels": self.channels, "num_basis": int(self.frequencies.shape[0]),
            "radial_hidden": self.radial_hidden, "hidden": self.readout_in.out_features,
            "readout_layers": len(self.readout_hidden) + 1, "lmax": self.lmax, "envelope_p": self.envelope_p,
            "radial_mode": self.radial_mode,
        }
        return {**config, **self.core_config()}

    def core_config(self) -> Dict[str, Any]:
        """The core repulsion windows as constructor kwargs; empty while the repulsion is off."""
        if not self.has_core_repulsion():
            return {}
        return {"core_inner": self.core_inner.tolist(), "core_outer": self.core_outer.tolist()}

    def set_core_repulsion(self, inner: torch.Tensor, outer: torch.Tensor) -> None:
        """Switch the core repulsion on with per-ordered-pair windows ``(num_elements ** 2,)``
        (:func:`.repulsion.core_windows`); both directions of a pair must agree, since the
        pair energy is split half and half between the two atoms of an edge."""
        n = self.num_elements
        inner = torch.as_tensor(inner, dtype=torch.float64).reshape(n, n)
        outer = torch.as_tensor(outer, dtype=torch.float64).reshape(n, n)
        if inner.shape != (n, n) or not torch.equal(inner, inner.T) or not torch.equal(outer, outer.T):
            raise ValueError("core repulsion windows must be symmetric in the element pair")
        if bool(((outer > 0) & ~((inner >= 0) & (inner < outer))).any()):
            raise ValueError("every core repulsion window needs 0 <= inner < outer")
        self.core_inner.copy_(inner.reshape(-1))
        self.core_outer.copy_(outer.reshape(-1))

    def has_core_repulsion(self) -> bool:
        return bool((self.core_outer > 0).any())

    def angular(self, u: torch.Tensor) -> torch.Tensor:
        """``(num_edges, num_components)``: the l = 0..lmax components of each edge direction,
        homogeneous of degree l in ``u`` (the native kernel relies on that): 1, 3, 5 and 10
        components for l = 0, 1, 2, 3."""
        x_, y_, z_ = u[:, 0], u[:, 1], u[:, 2]
        parts = [torch.ones_like(x_).unsqueeze(1), u]
        if self.lmax >= 2:
            parts.append(self.angular_l2(x_, y_, z_))
        if self.lmax == 3:
            # the 10 distinct monomials of u (x) u (x) u, each times the square root of its
            # multiplicity, so that a plain dot product is the full contraction: y3(u).y3(v) = (u.v)^3
            sqrt3, sqrt6 = 1.7320508075688772, 2.449489742783178
            parts.append(torch.stack(
                [x_ * x_ * x_, y_ * y_ * y_, z_ * z_ * z_, sqrt3 * x_ * x_ * y_, sqrt3 * x_ * x_ * z_,
                 sqrt3 * y_ * y_ * x_, sqrt3 * y_ * y_ * z_, sqrt3 * z_ * z_ * x_, sqrt3 * z_ * z_ * y_,
                 sqrt6 * x_ * y_ * z_], dim=1,
            ))
        return torch.cat(parts, dim=1)

    def angular_l2(self, x_: torch.Tensor, y_: torch.Tensor, z_: torch.Tensor) -> torch.Tensor:
        """``(len, 5, ...)`` for inputs of shape ``(len, ...)``: v^T B_m v for the basis B_m of :attr:`sh2_basis`; for a unit v,
        u u^T - I/3 in that orthonormal basis (5 numbers instead of 9). Quadratic in v."""
        sqrt2, sqrt6 = 1.4142135623730951, 2.449489742783178  # TorchScript has no globals
        return torch.stack(
            [sqrt2 * x_ * y_, sqrt2 * y_ * z_, sqrt2 * x_ * z_, (x_ * x_ - y_ * y_) / sqrt2,
             (2.0 * z_ * z_ - x_ * x_ - y_ * y_) / sqrt6], dim=1,
        )

    def radial(self, r: torch.Tensor, pair: torch.Tensor) -> torch.Tensor:
        """``(num_edges, num_l, channels)``: radial weights of each edge, envelope and
        neighbour normalisation included; ``pair = z_center * num_elements + z_neighbor``."""
        basis = torch.sin(r.unsqueeze(1) * self.frequencies) * (math.sqrt(2.0 / self.cutoff) / r.unsqueeze(1))
        fc = polynomial_cutoff(r, self.cutoff, self.envelope_p)
        # hasattr is resolved when scripting, so TorchScript compiles only this mode's layers
        if hasattr(self, "pair_in_weight"):
            w = self.per_pair(basis, pair)
        else:
            h = self.act(self.radial_in(basis) + self.pair_bias[pair])
            h = self.act(self.radial_mid(h))
            if hasattr(self, "radial_out"):
                w = self.radial_out(h)
                if hasattr(self, "pair_scale"):
                    w = w * self.pair_scale[pair]
            else:
                w = self.per_pair(h, pair)
        return (w * (fc / self.avg_num_neighbors).unsqueeze(1)).view(-1, self.num_l, self.channels)

    def per_pair(self, x: torch.Tensor, pair: torch.Tensor) -> torch.Tensor:
        """The per-pair layers of ``pair_out`` (``x``: shared hidden features) or ``pair_mlp``
        (``x``: Bessel basis) on the edges of each pair in turn. Gathering a weight matrix per
        edge would hold edges x hidden x width numbers, and multiplying a one-hot expansion by
        all pairs' weights at once cost more per training step on a GaN batch (pair_out +33 %,
        pair_mlp +58 % over shared, against +15 % and +8 % here). The groups have data-dependent
        sizes, so only the tabulated model of these modes exports to ONNX."""
        out = x.new_zeros(x.shape[0], self.pair_out_weight.shape[2])
        for p in range(self.num_elements * self.num_elements):
            edges = torch.nonzero(pair == p).squeeze(1)
            h = x.index_select(0, edges)
            if hasattr(self, "pair_in_weight"):
                h = self.act(torch.matmul(h, self.pair_in_weight[p]) + self.pair_in_bias[p])
                h = self.act(torch.matmul(h, self.pair_mid_weight[p]) + self.pair_mid_bias[p])
            out = out.index_copy(0, edges, torch.matmul(h, self.pair_out_weight[p]))
        return out

    def atom_energies(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor, num_local: int
    ) -> torch.Tensor:
        moments, pair_energy = self.local_moments(species, edge_index, edge_vectors, num_local)
        return self.energy_from_moments(species[:num_local], moments) + pair_energy

    def local_moments(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor, num_local: int
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(moments (num_local, num_components, channels), pair energies (num_local,))``: the
        sums over neighbours of ``angular x radial`` and each atom's half of its core repulsion."""
        center, neighbor = edge_index[0], edge_index[1]
        # ghost-centred edges (never sent for num_layers == 1, but allowed) go to a dropped row
        row = torch.where(center < num_local, center, torch.full_like(center, num_local))
        r = torch.linalg.norm(edge_vectors, dim=1)
        pair = species[center] * self.num_elements + species[neighbor]
        core = switch(r, self.core_inner[pair].to(r.dtype), self.core_outer[pair].to(r.dtype))
        weights = self.radial(r, pair) * (1.0 - core).view(-1, 1, 1)
        y = self.angular(edge_vectors / r.unsqueeze(1))
        moments = torch.zeros((num_local + 1, y.shape[1], self.channels), dtype=r.dtype, device=r.device)
        # each l has 1, 3, 5 or 10 angular components, all weighted by the radial weights of l
        sizes = [1, 3, 5, 10]
        per_component = torch.cat([weights[:, l:l + 1].expand(-1, sizes[l], -1) for l in range(self.num_l)], dim=1)
        moments = moments.index_add(0, row, y.unsqueeze(2) * per_component)
        # half of each pair's repulsion to each of its atoms (the edge j -> i carries the other half)
        z = self.core_z.to(r.dtype)
        repulsion = 0.5 * core * zbl(r, z[species[center]], z[species[neighbor]])
        pair_energy = torch.zeros(num_local + 1, dtype=r.dtype, device=r.device).index_add(0, row, repulsion)
        return moments[:num_local], pair_energy[:num_local]

    @torch.jit.export
    def energy_from_moments(self, species: torch.Tensor, moments: torch.Tensor) -> torch.Tensor:
        """Per-atom energies ``(num_atoms,)`` from the moments ``(num_atoms, num_components,
        channels)`` = sum over neighbours of ``angular x radial``. The native LAMMPS kernel
        (``pair_student/student_native.cpp``) writes out these invariants and their gradients
        by hand; ``tests/runtime/test_native.py`` holds the two to 1e-10."""
        out = self.readout_out(self.hidden_features(species, moments)).squeeze(1)
        return self.scale * out + self.shift[species]

    def hidden_features(self, species: torch.Tensor, moments: torch.Tensor) -> torch.Tensor:
        """``(num_atoms, hidden)``: the readout's last activations, of which the energy is a
        linear function."""
        h = self.act(self.readout_in(self.invariants(moments)) + self.element_bias[species])
        for layer in self.readout_hidden:
            h = self.act(layer(h))
        return h

    def invariants(self, moments: torch.Tensor) -> torch.Tensor:
        """``(num_atoms, features)``: the rotation invariants of the moments, the readout's input;
        the uncertainty (:mod:`.uncertainty`) measures how far they lie from the training set's."""
        a0, a1 = moments[:, 0], moments[:, 1:4]
        feats = [a0, (a1 * torch.matmul(a1, self.mix[0])).sum(1)]
        if self.lmax >= 2:
            # With A2 = sum_m a_m B_m in the orthonormal basis B_m of traceless symmetric matrices
            # (sh2_basis): A2:W A2 = a.b, v^T (W A2) v = sum_m y2_m(v) b_m and tr(A2 A2 W A2) =
            # sum_mnp T_mnp a_m a_n b_p with T_mnp = tr(B_m B_n B_p); no 3x3 matrices per channel.
            a2 = moments[:, 4:9]
            rows, C = a2.shape[0], self.channels
            b = torch.matmul(a2, torch.cat([self.mix[1], self.mix[2], self.mix[3]], dim=1))
            b1, b2, b3 = b[:, :, :C], b[:, :, C:2 * C], b[:, :, 2 * C:]
            feats.append((a2 * b1).sum(1))
            feats.append((self.angular_l2(a1[:, 0], a1[:, 1], a1[:, 2]) * b2).sum(1))
            quadratic = torch.matmul(self.sh2_cubic, (a2.unsqueeze(1) * a2.unsqueeze(2)).reshape(rows, 25, C))
            feats.append((quadratic * b3).sum(1))
        if self.lmax == 3:
            a3 = moments[:, 9:19]
            feats.append((a3 * torch.matmul(a3, self.mix[4])).sum(1))
        return torch.cat(feats, dim=1)

    @torch.jit.export
    def atom_uncertainty(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor, num_local: int
    ) -> torch.Tensor:
        """``(num_local,)``: each atom's expected force error in eV/A (:mod:`.uncertainty`);
        what ``pair_style student ... uncertainty yes`` computes in its native kernel."""
        if self.uncertainty_mean.shape[0] == 0:
            raise RuntimeError("this student carries no uncertainty statistics; export it with a dataset "
                               "(pair-student export --uncertainty-from DATASET)")
        moments, _ = self.local_moments(species, edge_index, edge_vectors, num_local)
        s = species[:num_local]
        x = self.invariants(moments)
        z = torch.bmm(self.uncertainty_whiten[s], (x - self.uncertainty_mean[s]).unsqueeze(2)).squeeze(2)
        distance = torch.sqrt((z * z).mean(1))
        return self.uncertainty_calibration[0] * torch.pow(distance, self.uncertainty_calibration[1])

    def set_uncertainty(self, mean: torch.Tensor, whiten: torch.Tensor, calibration: torch.Tensor) -> None:
        """Per element the training set's mean invariants ``(num_elements, features)`` and their
        whitening ``(num_elements, features, features)``, and ``calibration = (a, p)``: an atom's
        uncertainty is ``a * d**p`` for its whitened RMS distance ``d`` (:mod:`.uncertainty`)."""
        n, hidden = self.num_elements, self.readout_in.in_features
        mean, whiten = torch.as_tensor(mean), torch.as_tensor(whiten)
        calibration = torch.as_tensor(calibration)
        if mean.shape != (n, hidden) or whiten.shape != (n, hidden, hidden) or calibration.shape != (2,):
            raise ValueError(f"uncertainty statistics must be ({n}, {hidden}), ({n}, {hidden}, {hidden}) and (2,); "
                             f"got {tuple(mean.shape)}, {tuple(whiten.shape)} and {tuple(calibration.shape)}")
        dtype = self.readout_out.weight.dtype
        self.uncertainty_mean = mean.to(dtype)
        self.uncertainty_whiten = whiten.to(dtype)
        self.uncertainty_calibration = calibration.to(dtype)

    def has_uncertainty(self) -> bool:
        return self.uncertainty_mean.shape[0] > 0


def _pair_param(pairs: int, fan_in: int, *shape: int) -> torch.nn.Parameter:
    """``(pairs, *shape)`` drawn for each pair as ``torch.nn.Linear`` draws its own weights and
    bias, so that a per-pair network starts at the scale of the shared one."""
    bound = 1.0 / math.sqrt(fan_in)
    return torch.nn.Parameter(torch.empty(pairs, *shape).uniform_(-bound, bound))
