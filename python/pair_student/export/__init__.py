"""Student files from trained models or from other student files: TorchScript (tabulated
radial part for the native kernel, optional weight-only quantization) and ONNX (tabulated
students included), each verified against the eager model before it is written.

Modules, in the order export runs them: :mod:`.load` (checkpoint or student file to an
eager model; a model rebuilt from a file must reproduce the file), :mod:`.tabulate`,
:mod:`.quantize`, :mod:`.torchscript` / :mod:`.onnx` (writers), :mod:`.verify` (on the
structures of :mod:`.frames`); :mod:`.write` composes them into :func:`export`, :mod:`.cli`
is ``pair-student export``."""

from .frames import sample_frames, verification_graphs
from .load import load_source, student_file_source
from .quantize import QuantizedLinear, quantize_model
from .tabulate import TABULATION_TOLERANCE
from .verify import TOLERANCE, ExportVerificationError, verify_file
from .write import FORMATS, export

__all__ = ["FORMATS", "TABULATION_TOLERANCE", "TOLERANCE", "ExportVerificationError", "QuantizedLinear", "export",
           "load_source", "quantize_model", "sample_frames", "student_file_source", "verification_graphs",
           "verify_file"]
