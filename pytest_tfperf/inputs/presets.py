"""`tfperf_preprocess` presets, parsed without numpy (the plugin checks the ini key at start-up)."""
from __future__ import annotations

import math
from dataclasses import dataclass

from pytest_tfperf.errors import ConfigError

PRESETS = ("auto", "none", "unit", "tf", "caffe", "torch")
_PRESET_HELP = "use one of auto, none, unit, tf, caffe, torch, or scale=S,offset=O (e.g. scale=0.00392,offset=0)"


@dataclass(frozen=True)
class Preprocess:
    """A parsed `tfperf_preprocess` value: a preset name, or `scale`/`offset` (x * scale + offset)."""

    name: str
    scale: float = 1.0
    offset: float = 0.0

    def to_dict(self) -> dict:
        return {"name": self.name, "scale": float(self.scale), "offset": float(self.offset)}


def parse_preprocess(text: str | Preprocess | None) -> Preprocess:
    """Parse a `tfperf_preprocess` value.

    Args:
        text: "auto" (the range the model expects, `inputs.ranges`), "none", "unit", "tf",
            "caffe", "torch", or "scale=S,offset=O" (either part optional); None or "" mean "none".
    Returns:
        a `Preprocess`.
    Raises:
        ConfigError: naming `tfperf_preprocess` and the value, for anything else.
    """
    if isinstance(text, Preprocess):
        return text
    value = (text or "none").strip().lower()
    if value in PRESETS:
        return Preprocess(value)
    if "=" not in value:
        raise ConfigError(f"tfperf_preprocess: {text!r} is not a preprocess preset; {_PRESET_HELP}. "
                          f"Received: tfperf_preprocess={text!r}")
    parts = {"scale": 1.0, "offset": 0.0}
    seen = set()
    for item in value.split(","):
        key, _, number = (s.strip() for s in item.partition("="))
        if key not in parts or key in seen:
            raise ConfigError(f"tfperf_preprocess: {key!r} in {text!r} is not 'scale' or 'offset' (or is "
                              f"repeated); {_PRESET_HELP}. Received: tfperf_preprocess={text!r}")
        try:
            parts[key] = float(number)
        except ValueError:
            raise ConfigError(f"tfperf_preprocess: {key}={number!r} in {text!r} is not a number; "
                              f"{_PRESET_HELP}. Received: tfperf_preprocess={text!r}") from None
        if not math.isfinite(parts[key]):
            raise ConfigError(f"tfperf_preprocess: {key}={number!r} in {text!r} must be finite. "
                              f"Received: tfperf_preprocess={text!r}")
        seen.add(key)
    return Preprocess("scale", parts["scale"], parts["offset"])
