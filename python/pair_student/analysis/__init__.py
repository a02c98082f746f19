"""Per-atom force analysis of students against a teacher: streaming metrics, figures, card.

``pair_student.analyze`` is the command; this package holds its parts:
:mod:`.metrics` (streaming statistics), :mod:`.figures` (the per-student PNG),
:mod:`.card` (Markdown/HTML comparison card) and :mod:`.schema` (the JSON schema and validator).
"""

from .metrics import ErrorStats, angular_error_deg, r2_score, target_status
from .schema import SCHEMA, validate

__all__ = ["ErrorStats", "angular_error_deg", "r2_score", "target_status", "SCHEMA", "validate"]
