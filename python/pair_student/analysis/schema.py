"""The JSON written by ``pair-student analyze`` (``metrics.json``), and a small validator.

:data:`SCHEMA` is in JSON-Schema form (the subset :func:`validate` understands: ``type``,
``properties``, ``required``, ``items``, ``additionalProperties``, ``minimum``, ``maximum``,
``enum``), so ``jsonschema.validate(doc, SCHEMA)`` works too where jsonschema is installed.
Units: forces eV/A, energies eV/atom, stress GPa, angles degrees, time microseconds.
Metrics that cannot be computed (e.g. R² of a constant target, stress without periodic
frames) are ``null``. Keys ending in ``_ci95`` are 95 % bootstrap intervals ``[lo, hi]`` over
test frames (``null`` below two frames or where undefined); they and the paired comparison
``force_rmse_vs_best`` are optional, so metrics.json files written before them still validate.
A student that carries a per-atom uncertainty has an ``uncertainty`` block (:data:`UNCERTAINTY`,
:mod:`.calibration`); one without has none.
"""

from __future__ import annotations

from typing import Any, Dict, List

from ..registry import SIZES

NUM = {"type": ["number", "null"]}
COUNT = {"type": "integer", "minimum": 0}
CI = {"type": ["array", "null"], "items": {"type": "number"}}
BOOTSTRAP = {"type": "object", "required": ["unit", "resamples", "seed", "level"], "properties": {
    "unit": {"type": "string", "enum": ["frame"]}, "resamples": COUNT, "seed": {"type": "integer"},
    "level": {"type": "number", "minimum": 0, "maximum": 1}}}
PAIRED = {"type": ["object", "null"], "required": ["best", "ratio", "ratio_ci95", "verdict"], "properties": {
    "best": {"type": "string"}, "ratio": NUM, "ratio_ci95": CI, "difference": NUM, "difference_ci95": CI,
    "verdict": {"type": "string", "enum": ["A better", "B better", "tie"]}, "frames": COUNT}}
RHO = {"type": ["number", "null"], "minimum": -1, "maximum": 1}
CALIBRATION_BIN = {"type": "object", "required": ["lo", "hi", "count", "mean_predicted", "rms_actual"],
                   "properties": {"lo": {"type": "number", "minimum": 0}, "hi": {"type": "number", "minimum": 0},
                                  "count": COUNT, "mean_predicted": NUM, "rms_actual": NUM}}
UNCERTAINTY = {
    "type": ["object", "null"],
    "required": ["frames", "atoms", "bins", "mean_predicted", "rms_actual", "ratio", "spearman_max_error",
                 "spearman_max_error_ci95"],
    "properties": {
        "frames": COUNT,
        "atoms": COUNT,
        # non-empty bins of predicted u on a fixed log grid (eV/A); their counts sum to atoms
        "bins": {"type": "array", "items": CALIBRATION_BIN},
        "mean_predicted": NUM,  # over all atoms, eV/A
        "rms_actual": NUM,  # RMS per-atom |F_student - F_teacher|, eV/A
        "ratio": NUM,  # mean_predicted / rms_actual: 1 when the uncertainty is calibrated on these frames
        # rank correlation over frames of the largest u with the largest |dF| (and the force RMSE)
        "spearman_max_error": RHO, "spearman_max_error_ci95": CI,
        "spearman_frame_rmse": RHO, "spearman_frame_rmse_ci95": CI,
    },
}
PAIR_STATS = {
    "type": "object",
    "required": ["count", "r2", "rmse", "mae", "pearson"],
    "properties": {"count": COUNT, "r2": NUM, "rmse": NUM, "mae": NUM, "pearson": NUM},
}
FORCE = {
    "type": "object",
    "required": ["count", "r2", "rmse", "mae", "components", "magnitude_pearson", "error_percentiles"],
    "properties": {
        **PAIR_STATS["properties"],
        "components": {"type": "object", "required": ["x", "y", "z"],
                       "properties": {c: PAIR_STATS for c in "xyz"}, "additionalProperties": False},
        "magnitude_pearson": NUM,
        "error_percentiles": {"type": "object", "required": ["p50", "p90", "p95", "p99"],
                              "additionalProperties": NUM},
        "rmse_ci95": CI, "mae_ci95": CI, "r2_ci95": CI,
    },
}
STUDENT = {
    "type": "object",
    "required": ["name", "path", "parameters", "file_size_bytes", "elements", "frames", "atoms", "force",
                 "angular_error_deg", "per_element", "energy_per_atom", "stress_gpa", "speed", "target"],
    "properties": {
        "name": {"type": "string"},
        "path": {"type": "string"},
        "parameters": COUNT,
        "file_size_bytes": COUNT,
        "elements": {"type": "array", "items": {"type": "string"}},
        "frames": COUNT,
        "atoms": COUNT,
        "force": FORCE,
        "angular_error_deg": {
            "type": "object",
            "required": ["mean", "median", "p90", "counted", "skipped_small_force", "min_force"],
            "properties": {"mean": NUM, "median": NUM, "p90": NUM, "counted": COUNT,
                           "skipped_small_force": COUNT, "min_force": {"type": "number", "minimum": 0},
                           "mean_ci95": CI},
        },
        "per_element": {"type": "object", "additionalProperties": {
            "type": "object", "required": ["count", "r2", "rmse", "mae", "angular_mean_deg"],
            "properties": {**PAIR_STATS["properties"], "angular_mean_deg": NUM, "angular_median_deg": NUM}}},
        "energy_per_atom": {**PAIR_STATS, "properties": {**PAIR_STATS["properties"], "rmse_ci95": CI,
                                                         "mae_ci95": CI}},
        "stress_gpa": {"type": ["object", "null"], "properties": PAIR_STATS["properties"]},
        "speed": {"type": "object", "required": ["us_per_atom", "device", "threads"],
                  "properties": {"us_per_atom": NUM, "device": {"type": "string"}, "threads": COUNT}},
        "target": {"type": "object", "required": ["size", "status"], "properties": {
            "size": {"type": ["string", "null"], "enum": [*SIZES, None]},
            "status": {"type": "string", "enum": ["pass", "fail", "report only"]},
            "target": {"type": ["object", "null"]}}},
        "figure": {"type": ["string", "null"]},
        "bootstrap": BOOTSTRAP,
        "force_rmse_vs_best": PAIRED,
        "uncertainty": UNCERTAINTY,
    },
}
SCHEMA: Dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "pair-student analyze metrics",
    "type": "object",
    "required": ["schema_version", "teacher", "frames_file", "frames", "students"],
    "properties": {
        "schema_version": {"type": "integer", "enum": [1]},
        "teacher": {"type": ["string", "null"]},
        "labels": {"type": "string", "enum": ["dataset", "teacher"]},
        "frames_file": {"type": ["string", "null"]},
        "frames": COUNT,
        "students": {"type": "array", "items": STUDENT},
        "best_force_rmse": {"type": ["string", "null"]},
    },
}

_TYPES = {"object": dict, "array": list, "string": str, "integer": int, "number": (int, float),
          "boolean": bool, "null": type(None)}


def _is(value, name: str) -> bool:
    if name in ("integer", "number") and isinstance(value, bool):
        return False
    return isinstance(value, _TYPES[name])


def errors(doc: Any, schema: Dict[str, Any] = SCHEMA, path: str = "$") -> List[str]:
    """Every violation of ``schema`` in ``doc``, as ``"$.a.b: message"`` strings."""
    out: List[str] = []
    types = schema.get("type")
    if types is not None:
        types = [types] if isinstance(types, str) else types
        if not any(_is(doc, t) for t in types):
            return [f"{path}: expected {'/'.join(types)}, got {type(doc).__name__}"]
    if "enum" in schema and doc not in schema["enum"]:
        out.append(f"{path}: {doc!r} not one of {schema['enum']}")
    if isinstance(doc, (int, float)) and not isinstance(doc, bool):
        if "minimum" in schema and doc < schema["minimum"]:
            out.append(f"{path}: {doc} < minimum {schema['minimum']}")
        if "maximum" in schema and doc > schema["maximum"]:
            out.append(f"{path}: {doc} > maximum {schema['maximum']}")
    if isinstance(doc, dict):
        props = schema.get("properties", {})
        out += [f"{path}: missing required {k!r}" for k in schema.get("required", []) if k not in doc]
        extra = schema.get("additionalProperties", True)
        for key, value in doc.items():
            if key in props:
                out += errors(value, props[key], f"{path}.{key}")
            elif extra is False:
                out.append(f"{path}: unexpected property {key!r}")
            elif isinstance(extra, dict):
                out += errors(value, extra, f"{path}.{key}")
    if isinstance(doc, list) and "items" in schema:
        for i, item in enumerate(doc):
            out += errors(item, schema["items"], f"{path}[{i}]")
    return out


def validate(doc: Any, schema: Dict[str, Any] = SCHEMA) -> None:
    """Raise ``ValueError`` listing every violation of ``schema`` (the analyze JSON by default)."""
    problems = errors(doc, schema)
    if problems:
        raise ValueError("metrics JSON does not follow the schema:\n  " + "\n  ".join(problems[:20]))
