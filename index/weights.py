"""Learned weights as data: a JSON object of ``{"features": {name: weight}, "bias": b, ...provenance}``.

The line scorer and the reranker both keep their logistic weights this way, keyed by feature name so that a
file fitted for other features is refused at load with a message naming them, not misread by position.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import CitebotError


def read_json(path: Path, what: str) -> object:
    """The parsed file, or a one-line ``CitebotError`` saying what is missing or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CitebotError(f"{what} are missing: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CitebotError(f"cannot read {what} {path}: {exc}") from None


def parse(data: object, names: Sequence[str], where: str, refit: str) -> tuple[np.ndarray, float, dict[str, Any]]:
    """(weights in ``names`` order, bias, the other keys) of one weights object, checked by feature name."""
    if not isinstance(data, Mapping) or not isinstance(data.get("features"), Mapping):
        raise CitebotError(f"{where}: expected an object with a \"features\" object of name: weight")
    named = data["features"]
    missing = [f for f in names if f not in named]
    extra = [f for f in named if f not in names]
    if missing:
        raise CitebotError(f"{where}: no weight for feature(s) {', '.join(missing)}: refit with {refit}")
    if extra:
        raise CitebotError(f"{where}: unknown feature(s) {', '.join(extra)}: expected only {', '.join(names)}")
    values = {**named, "bias": data.get("bias")}
    bad = [k for k, v in values.items()
           if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v)]
    if bad:
        raise CitebotError(f"{where}: the weight of {bad[0]} is not a finite number: {values[bad[0]]!r}")
    rest = {k: v for k, v in data.items() if k not in ("features", "bias")}
    return np.array([named[f] for f in names], dtype=np.float32), float(data["bias"]), rest


def dump(names: Sequence[str], weights: np.ndarray, bias: float) -> dict[str, Any]:
    """The ``features`` and ``bias`` entries of a weights object, rounded as the fit scripts print them."""
    return {"features": {f: round(float(w), 4) for f, w in zip(names, weights)}, "bias": round(bias, 4)}
