"""The edge path: TFLite conversion (`to_tflite`) and seed 002's variant table (`variants`).

TensorFlow and LiteRT load only when a function runs.
"""
from __future__ import annotations

from pytest_tfperf.edge.convert import QUANTIZE_MODES, ConversionError, image_variants, to_tflite
from pytest_tfperf.edge.variants import VariantRow, VariantTable, variants  # noqa: E402

__all__ = ["QUANTIZE_MODES", "ConversionError", "VariantRow", "VariantTable", "image_variants",
           "to_tflite", "variants"]
