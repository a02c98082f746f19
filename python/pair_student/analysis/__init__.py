"""Per-atom force analysis of students against a teacher: :mod:`.analyze` (the comparison),
:mod:`.metrics` (streaming statistics), :mod:`.figures` (the per-student PNG), :mod:`.card`
(Markdown/HTML comparison card), :mod:`.schema` (the JSON schema and validator),
:mod:`.calibration` (a per-atom uncertainty against the actual errors) and :mod:`.cli`
(``pair-student analyze``)."""

from .analyze import analyze_students
from .metrics import ErrorStats
from .schema import SCHEMA, validate

__all__ = ["ErrorStats", "SCHEMA", "analyze_students", "validate"]
