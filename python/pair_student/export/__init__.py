"""Student files from trained models: TorchScript (tabulated radial part for the native kernel,
optional weight-only quantization) and ONNX, each verified against the eager model before it
is written."""

from .torchscript import (FORMATS, TABULATION_TOLERANCE, TOLERANCE, ExportVerificationError, export,
                          load_checkpoint, local_student_from_file, quantize_model, sample_frames)

__all__ = ["FORMATS", "TABULATION_TOLERANCE", "TOLERANCE", "ExportVerificationError", "export", "load_checkpoint",
           "local_student_from_file", "quantize_model", "sample_frames"]
