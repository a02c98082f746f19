"""On-policy distillation: the student explores, the teacher labels where it is unsure, the
student learns those frames and explores again (``pair-student distill --active``)."""

from .loop import ActiveConfig, run_active

__all__ = ["ActiveConfig", "run_active"]
