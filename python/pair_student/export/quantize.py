"""Weight-only quantization of a student's ``nn.Linear`` layers (TorchScript files only).

``torch.ao.quantization.quantize_dynamic`` is not used: ``quantized::linear_dynamic`` has no
autograd formula, so forces through it come out wrong without an error. Here the weights
are stored as int8 (per output channel, symmetric) or fp16 and dequantized in ``forward``,
which keeps forces exact gradients of the quantized energy.
"""

from __future__ import annotations

import copy

import torch

MODES = ("int8", "fp16")


class QuantizedLinear(torch.nn.Module):
    """Weight-only quantized ``nn.Linear``: int8 (per-row scale) or fp16 storage, float compute.

    Dequantizing in ``forward`` keeps the layer differentiable with respect to its input,
    which conservative forces need.
    """

    def __init__(self, linear: torch.nn.Linear, mode: str):
        super().__init__()
        weight = linear.weight.detach()
        if mode == "int8":
            scale = weight.abs().amax(dim=1).clamp_min(1e-12) / 127.0
            self.register_buffer("qweight", torch.round(weight / scale[:, None]).to(torch.int8))
        elif mode == "fp16":
            scale = torch.ones(weight.shape[0], dtype=weight.dtype)
            self.register_buffer("qweight", weight.to(torch.float16))
        else:
            raise ValueError(f"quantize must be 'int8' or 'fp16', got {mode!r}")
        self.register_buffer("scale", scale)
        bias = linear.bias.detach().clone() if linear.bias is not None else torch.zeros(weight.shape[0], dtype=weight.dtype)
        self.register_buffer("bias", bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.qweight.to(x.dtype) * self.scale.to(x.dtype).unsqueeze(1)
        return torch.nn.functional.linear(x, weight, self.bias.to(x.dtype))


def quantize_model(model: torch.nn.Module, mode: str) -> torch.nn.Module:
    """A copy of ``model`` with every ``nn.Linear`` replaced by :class:`QuantizedLinear`."""
    model = copy.deepcopy(model)
    count = 0
    for module in list(model.modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, torch.nn.Linear):
                setattr(module, child_name, QuantizedLinear(child, mode))
                count += 1
    if count == 0:
        raise ValueError("--quantize: the model has no nn.Linear layers to quantize")
    return model
