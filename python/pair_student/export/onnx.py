"""A student as an ONNX graph with an explicit backward pass (used by :mod:`pair_student.export`).

ONNX has no ``autograd.grad``, so the gradient is traced rather than exported: the energies
and their vector-Jacobian product are traced together with ``make_fx`` (symbolic shapes, so
``num_nodes``/``num_edges`` stay dynamic), giving a plain graph of ATen forward *and*
backward ops. That graph is scripted (so sizes stay symbolic ints) and handed to the
TorchScript-based ONNX exporter, which needs no ``onnxscript``.

The file's interface, identical to the TorchScript contract::

    inputs   species       int64   (num_nodes,)
             edge_index    int64   (2, num_edges)      [center, neighbor]
             edge_vectors  float   (num_edges, 3)      x[neighbor] - x[center], Angstrom
             num_local     int64   ()                  scalar: atoms whose energy is wanted
    outputs  atom_energy   float   (num_local,)        eV
             edge_grad     float   (num_edges, 3)      dE/d edge_vectors, E = atom_energy.sum()

How the backward graph is made exportable, and why:

* energies are computed for every node and the gradient is the VJP with a 0/1 mask over
  local nodes, so ``num_local`` can be a runtime input instead of a traced constant;
* ``index_add`` and accumulating ``index_put`` become ``scatter_add``: the legacy exporter
  turns ``index_add`` into a ScatterElements *without* ``reduction="add"``, which silently
  keeps one of several contributions to the same atom;
* ``*_copy`` view ops of functionalization go back to their view ops (which the exporter
  knows), ``detach_copy`` to ``detach`` and ``_unsafe_view`` to ``reshape``; ``select_backward``
  and ``slice_backward`` (scattering a gradient into zeros) become concatenations with zeros;
  OpOverloads become overload packets so that TorchScript can compile the graph.

A tabulated student (:class:`~pair_student.models.tabulated.TabulatedStudent`, every shipped
student) needs nothing else: its radial weights are ``floor``/``clip`` of ``r / spacing`` to
the interval, two ``Gather`` rows of the value and slope tables per edge, and the cubic
Hermite polynomial in the fraction ``t``; the traced backward differentiates the polynomial
in ``t`` (the interval index is detached, and the tables are constants), so the graph holds
the polynomial's exact derivative and the file is the TorchScript file's function.
"""

from __future__ import annotations

import os
import warnings
from typing import Any, Dict

import torch
from torch.fx.experimental.proxy_tensor import make_fx

from ..contract import encode_metadata

aten = torch.ops.aten

OPSET = 18  # ScatterElements reduction="add" needs >= 16; 18 is well supported by onnxruntime
INPUT_NAMES = ["species", "edge_index", "edge_vectors", "num_local"]
OUTPUT_NAMES = ["atom_energy", "edge_grad"]
INTERFACE = "species,edge_index,edge_vectors,num_local -> atom_energy,edge_grad"
DYNAMIC_AXES = {
    "species": {0: "num_nodes"},
    "edge_index": {1: "num_edges"},
    "edge_vectors": {0: "num_edges"},
    "atom_energy": {0: "num_local"},
    "edge_grad": {0: "num_edges"},
}


def _index_add(x, dim, index, source, *, alpha=1):
    if alpha != 1:
        source = source * alpha
    shape = [1] * source.dim()
    shape[dim] = -1
    return x.scatter_add(dim, index.reshape(shape).expand_as(source), source)


def _index_put(x, indices, values, accumulate=False):
    # Only the backward of ``y = x[idx]`` (one int64 index, accumulate) is rewritten.
    if accumulate and len(indices) == 1 and indices[0] is not None and indices[0].dtype == torch.int64:
        idx = indices[0]
        return _index_add(x, 0, idx, values.expand((idx.shape[0],) + tuple(x.shape[1:])))
    return NotImplemented


def _slice_backward(grad, sizes, dim, start, end, step):
    if step != 1:
        return NotImplemented
    n = sizes[dim]
    end = min(end, n)
    parts = []
    if start > 0:
        shape = list(sizes)
        shape[dim] = start
        parts.append(grad.new_zeros(shape))
    parts.append(grad)
    if end < n:
        shape = list(sizes)
        shape[dim] = n - end
        parts.append(grad.new_zeros(shape))
    return torch.cat(parts, dim) if len(parts) > 1 else grad


def _select_backward(grad, sizes, dim, index):
    # the gradient of ``x.select(dim, index)``: ``grad`` at ``index``, zeros elsewhere
    n = sizes[dim]
    index = index + n if index < 0 else index

    def zeros(count):
        shape = list(sizes)
        shape[dim] = count
        return grad.new_zeros(shape)

    parts = [zeros(index)] if index > 0 else []
    parts.append(grad.unsqueeze(dim))
    if index < n - 1:
        parts.append(zeros(n - 1 - index))
    return torch.cat(parts, dim) if len(parts) > 1 else parts[0]


_DECOMPOSITIONS = {
    aten.select_backward.default: _select_backward,
    aten.index_add.default: _index_add,
    aten.index_put.default: _index_put,
    aten.slice_backward.default: _slice_backward,
}

_VIEW_OPS = {
    aten.expand_copy.default: aten.expand.default,
    aten.select_copy.int: aten.select.int,
    aten.slice_copy.Tensor: aten.slice.Tensor,
    aten.squeeze_copy.dim: aten.squeeze.dim,
    aten.squeeze_copy.dims: aten.squeeze.dims,
    aten.unsqueeze_copy.default: aten.unsqueeze.default,
    aten.t_copy.default: aten.t.default,
    aten.view_copy.default: aten.reshape.default,
    aten.permute_copy.default: aten.permute.default,
    aten.transpose_copy.int: aten.transpose.int,
    aten.sym_size.int: aten.size.int,
    aten.detach_copy.default: aten.detach.default,
    aten._unsafe_view.default: aten.reshape.default,
}


class _SliceLocal(torch.nn.Module):
    """Runs the traced graph and keeps the energies of the ``num_local`` first nodes."""

    def __init__(self, graph: torch.nn.Module):
        super().__init__()
        self.graph = graph

    def forward(self, species, edge_index, edge_vectors, num_local):
        energy, grad = self.graph(species, edge_index, edge_vectors, num_local)
        return energy.index_select(0, torch.arange(num_local)), grad


def trace_energy_and_grad(model: torch.nn.Module, example: Dict[str, torch.Tensor]) -> torch.fx.GraphModule:
    """``make_fx`` graph of ``(species, edge_index, edge_vectors, num_local) -> (all-node
    energies, masked edge gradient)`` with symbolic sizes and only exportable ops."""
    model = model.eval()

    def energy_and_grad(species, edge_index, edge_vectors, num_local):
        num_nodes = species.shape[0]

        def energies(vectors):
            return model.atom_energies(species, edge_index, vectors, num_nodes)

        energy, vjp = torch.func.vjp(energies, edge_vectors)
        local = (torch.arange(num_nodes, device=species.device) < num_local).to(energy.dtype)
        (grad,) = vjp(local)
        return energy, grad

    fn = torch.func.functionalize(energy_and_grad, remove="mutations_and_views")
    args = (example["species"], example["edge_index"], example["edge_vectors"], torch.tensor(example["num_local"]))
    # parameters are constants of the graph, not inputs to differentiate; the caller's model
    # gets its flags back (it may still be training)
    flags = [(p, p.requires_grad) for p in model.parameters()]
    try:
        for p, _ in flags:
            p.requires_grad_(False)
        # _allow_non_fake_inputs: the model's parameters/buffers become graph constants
        gm = make_fx(fn, tracing_mode="symbolic", decomposition_table=_DECOMPOSITIONS,
                     _allow_non_fake_inputs=True)(*args)
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)
    for node in gm.graph.nodes:
        if node.op != "call_function":
            continue
        if node.target is aten._to_copy.default:
            node.target, node.args, node.kwargs = aten.to.dtype, (node.args[0], node.kwargs["dtype"]), {}
        node.target = _VIEW_OPS.get(node.target, node.target)
        if isinstance(node.target, torch._ops.OpOverload):
            node.target = node.target.overloadpacket  # TorchScript resolves packets, not overloads
            # device/layout arguments are CPU constants of the trace; ONNX has no devices
            node.kwargs = {k: v for k, v in node.kwargs.items() if k not in ("device", "pin_memory", "layout")}
    gm.recompile()
    return gm


def export_onnx(model: torch.nn.Module, example: Dict[str, torch.Tensor], path: str | os.PathLike) -> None:
    """Write ``model`` (a StudentModel with ``atom_energies``) as ONNX to ``path``.

    ``example`` is a contract graph dict with more than one node and edge (sizes 0 and 1
    would be specialised by the symbolic trace).
    """
    gm = trace_energy_and_grad(model, example)
    wrapped = torch.jit.script(_SliceLocal(torch.jit.script(gm)))
    args = (example["species"], example["edge_index"], example["edge_vectors"], torch.tensor(example["num_local"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation chatter
        torch.onnx.export(
            wrapped, args, str(path), dynamo=False, opset_version=OPSET,
            input_names=INPUT_NAMES, output_names=OUTPUT_NAMES, dynamic_axes=DYNAMIC_AXES,
        )


def write_onnx(model: torch.nn.Module, example: Dict[str, torch.Tensor], path: str | os.PathLike,
               metadata: Dict[str, Any]) -> None:
    """:func:`export_onnx`, with the contract metadata (the keys of the TorchScript extra
    files) and ``interface`` in the file's ``metadata_props``."""
    import onnx  # optional: only ONNX exports need it

    export_onnx(model, example, path)
    proto = onnx.load(str(path))
    # the graph has no uncertainty output, so its provenance claims none (the .pt file holds it)
    provenance = {k: v for k, v in (metadata.get("provenance") or {}).items() if k != "uncertainty"}
    for key, value in encode_metadata({**metadata, "provenance": provenance}).items():
        proto.metadata_props.add(key=key, value=value)
    proto.metadata_props.add(key="interface", value=INTERFACE)
    onnx.save(proto, str(path))
