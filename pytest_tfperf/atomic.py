"""Atomic file writes: a reader sees the old file or the new one, never half of one.

The text goes to a temporary file in the target's directory (same filesystem, so the final
rename is atomic), is fsync'ed, then renamed over the target with `os.replace` - or, when the
target must not be overwritten (stored baselines), hard-linked to it, which fails if it exists.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any


def unwritable(path: str | os.PathLike) -> tuple[str, str] | None:
    """Why `write_bytes(path)` cannot succeed, checked before any slow work: the one
    writable-path check (CLI outputs, `to_tflite(path=)`, the plugin's report options).

    Missing parent folders are fine (`write_bytes` creates them). Returns `(culprit, problem)`
    for the caller to word with its own option name and fix, or None:
    `(path, "is a directory")`, `(ancestor, "is a file, not a directory")`,
    `(folder or path, "is not writable")`.
    """
    text = os.fspath(path)
    if os.path.isdir(text):
        return text, "is a directory"
    existing = os.path.dirname(os.path.abspath(text))
    shown = os.path.dirname(text)
    while existing and not os.path.exists(existing):
        existing, shown = os.path.dirname(existing), os.path.dirname(shown)
    shown = shown or existing
    if not os.path.isdir(existing):
        return shown, "is a file, not a directory"
    if not os.access(existing, os.W_OK | os.X_OK):
        return shown, "is not writable"
    if os.path.exists(text) and not os.access(text, os.W_OK):
        return text, "is not writable"
    return None


def write_bytes(path: str | os.PathLike, data: bytes, *, overwrite: bool = True) -> Path:
    """Write `data` to `path` atomically, creating parent directories.

    Args:
        path: the file to write.
        data: its new content.
        overwrite: when False, raise `FileExistsError` instead of replacing an existing file
            (the check and the write are one atomic step).

    Returns:
        The path written, as a `Path`.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; our files are as readable as any
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if overwrite:
            os.replace(tmp, target)
        else:
            os.link(tmp, target)  # FileExistsError if someone else got there first
            os.unlink(tmp)
        tmp = None
        _fsync_dir(target.parent)
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
    return target


def write_text(path: str | os.PathLike, text: str, *, overwrite: bool = True) -> Path:
    """`write_bytes` of `text` as UTF-8 (newlines kept as written)."""
    return write_bytes(path, text.encode("utf-8"), overwrite=overwrite)


def write_json(path: str | os.PathLike, data: Any, *, overwrite: bool = True,
               indent: int | None = 2) -> Path:
    """`write_text` of `data` as JSON (numpy scalars/arrays converted, NaN/inf as null)."""
    return write_text(path, dumps(data, indent=indent) + "\n", overwrite=overwrite)


def dumps(data: Any, indent: int | None = 2) -> str:
    """Strict JSON text of `data`: numpy values become plain numbers/lists, non-finite -> null."""
    return json.dumps(jsonable(data), indent=indent, allow_nan=False)


def jsonable(value: Any) -> Any:
    """A copy of `value` made of dict/list/str/int/float/bool/None only (JSON- and execnet-safe)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if hasattr(value, "to_dict"):
        return jsonable(value.to_dict())
    if hasattr(value, "tolist"):  # numpy scalar or array
        return jsonable(value.tolist())
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return str(value)


def _fsync_dir(directory: Path) -> None:
    """Persist the rename itself (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
