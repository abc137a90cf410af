"""Counts and sizes as users write them and as messages show them (numpy-free: markers are parsed
at collection time).

`parse_count("62.4M")`, `parse_megabytes("25MB")` read budget arguments; `pct_text` and
`bytes_text` write amounts in verdict messages so that a tiny excess never reads "by 0.0%".
"""
from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import MarkerUsageError

MB = 1_000_000  # bytes per MB in size/memory budgets and messages

_COUNT_SUFFIXES = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "b": 10**9, "t": 10**12}
_SIZE_UNITS = {"": 1.0, "b": 1e-6, "kb": 1e-3, "mb": 1.0, "gb": 1e3, "tb": 1e6,
               "kib": 1024 / 1e6, "mib": 1024**2 / 1e6, "gib": 1024**3 / 1e6, "tib": 1024**4 / 1e6}
NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"


def parse_count(value: Any, *, what: str = "count") -> int:
    """A positive count from an int or a string like "62.4M", "1.5G", "800k", "12,000".

    Args:
        value: int, integral float, or string: digits with optional `,` / `_` separators,
            optional decimal part and optional suffix k (10^3), M (10^6), G or B (10^9),
            T (10^12), any case. Fractions are rounded to the nearest integer.
        what: the argument's name, for the error message.

    Returns:
        The count.

    Raises:
        MarkerUsageError: not a count, or not positive.
    """
    hint = (f"{what} must be a positive count such as 60000000, '62.4M', '1.5G', '800k' or "
            f"'12,000'. Received: {what}={value!r}")
    if isinstance(value, bool):
        raise MarkerUsageError(hint)
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise MarkerUsageError(hint)
        number = Decimal(repr(value))
    elif isinstance(value, str):
        text = value.strip().replace(",", "").replace("_", "").replace(" ", "")
        match = re.fullmatch(rf"({NUMBER})([A-Za-z]?)", text)
        if not match or match.group(2).lower() not in _COUNT_SUFFIXES:
            raise MarkerUsageError(hint)
        try:
            number = Decimal(match.group(1)) * _COUNT_SUFFIXES[match.group(2).lower()]
        except InvalidOperation:
            raise MarkerUsageError(hint) from None
    else:
        raise MarkerUsageError(hint)
    count = int(number.to_integral_value())
    if count <= 0:
        raise MarkerUsageError(hint)
    return count


def parse_megabytes(value: Any, *, what: str = "mb") -> float:
    """A positive size in MB (10**6 bytes) from a number or a string like "25MB", "1.5GB".

    Args:
        value: a number of MB, or a string with unit B, KB, MB, GB, TB (decimal) or KiB, MiB,
            GiB, TiB (binary, converted); no unit means MB.
        what: the argument's name, for the error message.

    Returns:
        The size in MB.

    Raises:
        MarkerUsageError: not a size, or not positive.
    """
    hint = (f"{what} must be a positive size in MB such as 25, 1.5, '25MB', '1.5GB' or '800KB'. "
            f"Received: {what}={value!r}")
    if isinstance(value, bool):
        raise MarkerUsageError(hint)
    if isinstance(value, (int, float)):
        mb = float(value)
    elif isinstance(value, str):
        match = re.fullmatch(rf"\s*({NUMBER})\s*([A-Za-z]*)\s*", value.replace(",", "").replace("_", ""))
        if not match or match.group(2).lower() not in _SIZE_UNITS:
            raise MarkerUsageError(hint)
        mb = float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()]
    else:
        raise MarkerUsageError(hint)
    if not math.isfinite(mb) or mb <= 0:
        raise MarkerUsageError(hint)
    return mb


def pct_text(pct: float) -> str:
    """A percentage that never reads "0.0%" for a nonzero amount: 12.4 -> '12.4%',
    0.0188 -> '0.02%', 0.0000188 -> '0.00002%' (one significant digit below 0.1%)."""
    if not math.isfinite(pct) or pct == 0 or abs(pct) >= 0.1:
        return f"{pct:.1f}%"
    decimals = min(-math.floor(math.log10(abs(pct))), 12)
    return f"{pct:.{decimals}f}%"


def bytes_text(n: float) -> str:
    """An amount of bytes for messages: '1 byte', '812 bytes', '12.3 kB', '37.9 MB' (10**3 units)."""
    if n >= MB:
        return f"{n / MB:,.1f} MB"
    if n >= 1000:
        return f"{n / 1000:,.1f} kB"
    whole = round(n)
    if whole < 1:
        return "less than 1 byte"
    return "1 byte" if whole == 1 else f"{whole:,} bytes"
