"""SevenNet-0: the embedded default teacher (its weights ship inside the ``sevenn`` wheel,
so it works offline)."""

from __future__ import annotations

import warnings
from typing import Optional, Set

from ase.data import chemical_symbols

from .base import Teacher


class SevenNetTeacher(Teacher):
    """SevenNet through ``sevenn.calculator.SevenNetCalculator``.

    Args:
        model: pretrained name (``"7net-0"`` by default, which needs no download) or a path to
            a SevenNet checkpoint.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...
        modal: fidelity for multi-fidelity models (e.g. ``"mpa"`` for 7net-mf-ompa).
        dtype: only ``"float32"``: SevenNet's released models run in single precision.
    """

    conservative = True

    def __init__(
        self,
        *,
        model: str = "7net-0",
        device: str = "cpu",
        modal: Optional[str] = None,
        dtype: str = "float32",
    ) -> None:
        try:
            import sevenn
            from sevenn.calculator import SevenNetCalculator
        except ImportError as exc:
            raise ImportError(
                "the SevenNet teacher needs the sevenn package: pip install 'pair-student[sevenn]'"
            ) from exc
        if dtype not in ("float32", "float32-high"):
            raise ValueError(f"SevenNet runs in float32 only, not {dtype!r}")
        with warnings.catch_warnings():
            # sevenn warns on every CPU construction that no GPU tensor-product kernel is on.
            warnings.simplefilter("ignore", UserWarning)
            self._calc = SevenNetCalculator(model=model, device=device, modal=modal)
        self.name = "sevennet"
        self.version = f"sevenn-{sevenn.__version__}/{model}" + (f"/{modal}" if modal else "")
        self.device = device

    def calculator(self):
        return self._calc

    def covered_elements(self) -> Set[str]:
        # type_map: atomic number -> the model's species index, one entry per trained element
        return {chemical_symbols[z] for z in self._calc.type_map}
