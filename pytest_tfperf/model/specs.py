"""`TensorSpec`: one model input or output (name, dtype, shape, TFLite quantization)."""
from __future__ import annotations

import dataclasses

from pytest_tfperf.model import graphs


@dataclasses.dataclass(frozen=True)
class TensorSpec:
    """A model input or output: tensor name ("node:0"), dtype name, shape (None dims unknown),
    and for quantized (TFLite) tensors `quantization = (scale, zero_point)`."""

    name: str
    dtype: str
    shape: tuple | None
    quantization: tuple | None = None

    @property
    def node(self) -> str:
        return graphs.node_name(self.name)

    @property
    def rank(self) -> int | None:
        return None if self.shape is None else len(self.shape)

    def shape_text(self) -> str:
        """'[?,224,224,3]' as summarize_graph prints it."""
        if self.shape is None:
            return "<unknown>"
        return "[" + ",".join("?" if d is None else str(d) for d in self.shape) + "]"

    def to_dict(self) -> dict:
        """JSON-able dict; "quantization" only when set."""
        d = {"name": self.name, "dtype": self.dtype,
             "shape": None if self.shape is None else list(self.shape)}
        if self.quantization is not None:
            d["quantization"] = list(self.quantization)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TensorSpec":
        """Inverse of `to_dict`."""
        shape = d.get("shape")
        quant = d.get("quantization")
        return cls(name=d["name"], dtype=d["dtype"], shape=None if shape is None else tuple(shape),
                   quantization=None if quant is None else tuple(quant))
