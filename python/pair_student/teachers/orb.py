"""Orb force fields (orb-models) as teachers, conservative and direct variants by name.

Pretrained weights are fetched by orb-models itself (``cached_path``) the first time a model
is used. ``weights_path=`` points at a local checkpoint instead; ``random_weights=True``
writes a randomly initialised checkpoint of the same architecture and then goes through the
very same pretrained constructor, so tests exercise the user's code path minus the download.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from typing import Optional

import torch

from .base import Teacher

_DTYPES = {"float32": "float32-high", "float32-high": "float32-high",
           "float32-highest": "float32-highest", "float64": "float64"}


def orb_model_names() -> list:
    """Orb model names orb-models knows (empty when orb-models is not installed)."""
    try:
        from orb_models.forcefield.pretrained import ORB_PRETRAINED_MODELS
    except ImportError:
        return [
            "orb-v3-conservative-20-omat", "orb-v3-conservative-inf-omat",
            "orb-v3-direct-20-omat", "orb-v3-direct-inf-omat",
            "orb-v3-conservative-20-mpa", "orb-v3-conservative-inf-mpa",
            "orb-v3-direct-20-mpa", "orb-v3-direct-inf-mpa",
        ]
    return [n for n in ORB_PRETRAINED_MODELS if "v1" not in n]


def _random_checkpoint(name: str, seed: int) -> str:
    """A state dict with random weights matching ``name``'s architecture, saved to a temp file."""
    from orb_models.forcefield import pretrained
    from orb_models.forcefield.atomic_system import SystemConfig

    if not name.startswith("orb-v3-") or "omol" in name:
        raise ValueError(f"random_weights is supported for the orb-v3 omat/mpa models, not {name!r}")
    neighbours = 20 if "-20-" in name else 120
    build = (pretrained.orb_v3_conservative_architecture if "conservative" in name
             else pretrained.orb_v3_direct_architecture)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = build(device="cpu", system_config=SystemConfig(radius=6.0, max_num_neighbors=neighbours))
    fd, path = tempfile.mkstemp(prefix=f"{name}-random-", suffix=".ckpt")
    os.close(fd)
    torch.save(model.state_dict(), path)
    return path


class OrbTeacher(Teacher):
    """An orb-models force field.

    Args:
        name: orb-models model name, e.g. ``"orb-v3-conservative-inf-omat"`` or
            ``"orb-v3-direct-20-omat"`` (``orb_model_names()`` lists them).
        device: ``"cpu"``, ``"cuda"``, ...
        dtype: ``"float32"`` (fast, TF32 matmuls allowed), ``"float32-highest"`` or
            ``"float64"``. Orb sets torch's global default dtype; this teacher restores it.
        weights_path: local checkpoint file (or URL) instead of the published weights.
        random_weights: build the architecture with random weights (for tests; meaningless
            physics).
        seed: seed for ``random_weights``.
        compile: ``torch.compile`` the model (worth it on GPU for long jobs; slow to start on CPU).
    """

    def __init__(
        self,
        *,
        name: str = "orb-v3-conservative-inf-omat",
        device: str = "cpu",
        dtype: str = "float32",
        weights_path: Optional[str] = None,
        random_weights: bool = False,
        seed: int = 0,
        compile: bool = False,
    ) -> None:
        try:
            import orb_models
            from orb_models.forcefield.calculator import ORBCalculator
            from orb_models.forcefield.pretrained import ORB_PRETRAINED_MODELS
        except ImportError as exc:
            raise ImportError(
                "Orb teachers need the orb-models package: pip install 'pair-student[orb]'"
            ) from exc
        if name not in ORB_PRETRAINED_MODELS:
            raise ValueError(f"unknown Orb model {name!r}; known: {', '.join(orb_model_names())}")
        if dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {sorted(_DTYPES)}, not {dtype!r}")
        if random_weights and weights_path:
            raise ValueError("give either weights_path or random_weights, not both")
        temp = _random_checkpoint(name, seed) if random_weights else None
        kwargs = {"device": device, "precision": _DTYPES[dtype], "compile": compile}
        if temp or weights_path:
            kwargs["weights_path"] = temp or str(weights_path)
        previous = torch.get_default_dtype()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                model = ORB_PRETRAINED_MODELS[name](**kwargs)
        finally:
            self._dtype = torch.get_default_dtype()
            torch.set_default_dtype(previous)
            if temp:
                os.unlink(temp)
        self._calc = ORBCalculator(model, device=device)
        self.conservative = bool(self._calc.conservative)
        self.name = name
        source = "random" if random_weights else (os.path.basename(str(weights_path)) if weights_path else "pretrained")
        self.version = f"orb-models-{orb_models.__version__.lstrip('v')}/{name}/{source}/{dtype}"
        self.device = device

    def calculator(self):
        return self._calc

    def compute(self, atoms):
        # Orb featurises with torch's default dtype, so it must match the model's for the call.
        previous = torch.get_default_dtype()
        torch.set_default_dtype(self._dtype)
        try:
            return super().compute(atoms)
        finally:
            torch.set_default_dtype(previous)
