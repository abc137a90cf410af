"""Keep TensorFlow's and LiteRT's info and warning log lines off the terminal.

`TF_CPP_MIN_LOG_LEVEL=2` (the plugin and the `tfperf` command set it before TensorFlow loads,
unless the user set it) silences most of TensorFlow's C++ info and warning lines, but not all of
them in TF 2.19+: the lines logged while TensorFlow's shared libraries load are written before
absl logging is initialised, which ignores the level (`WARNING: All log messages before
absl::InitializeLog() ...` and `I0000 ... port.cc] oneDNN custom operations are on ...`, twice),
and LiteRT's own logger prints `INFO: Created TensorFlow Lite XNNPACK delegate for CPU.` whatever
the level. `filter_stderr()` pipes file descriptor 2 through a filter that drops those lines and
passes everything else through as it arrives: our warnings and errors, Python tracebacks, the
user's own lines, and TensorFlow's error (E) and fatal (F) lines.

Used by the `tfperf` command (around the whole command: `cli/_quiet.py`) and by the plugin, which
filters only while TensorFlow is first imported (`quiet_first_import`): inside pytest a test's
output is captured anyway, but a conftest's `pytest_configure` that builds models imports
TensorFlow where nothing captures it. Importing this module does not import TensorFlow.
"""
from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
from collections.abc import Iterator, Mapping

# Lines TensorFlow / absl / LiteRT write at info or warning level. E and F lines are kept, as
# TF_CPP_MIN_LOG_LEVEL=2 keeps them.
NOISE = re.compile(
    rb"^(?:"
    rb"[IW]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [^\]]*\] "                         # absl: I0000 00:00:... port.cc:153]
    rb"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IW] "                            # TF before 2.19
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called"   # absl's banner
    rb"|To enable the following instructions: .* rebuild TensorFlow"          # cpu_feature_guard
    rb"|INFO: (?:Created|Initialized|Replacing) .*(?:TensorFlow Lite|XNNPACK|delegate)"  # LiteRT
    rb")")
_PIPE_SIZE = 1 << 20  # a big pipe, so a burst of lines never blocks a writer holding the GIL


def is_noise(line: bytes | str) -> bool:
    """True for a TensorFlow/absl/LiteRT info or warning log line (what the filter drops)."""
    if isinstance(line, str):
        line = line.encode("utf-8", "replace")
    return NOISE.match(line) is not None


def wants_quiet(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether TensorFlow's info/warning lines should be filtered: unless the user asked for them.

    TF_CPP_MIN_LOG_LEVEL unset (we set 2) or 2/3 asks for no info and warning lines, which the
    start-up lines ignore, so they are filtered; 0 or 1 (or a value TensorFlow would not read as
    a level) asks for them, so every line shows.
    """
    level = environ.get("TF_CPP_MIN_LOG_LEVEL")
    if level is None:
        return True
    try:
        return int(level) >= 2
    except ValueError:
        return False


@contextlib.contextmanager
def filter_stderr(enabled: bool = True) -> Iterator[None]:
    """Run the body with stderr (fd 2) filtered through `is_noise`; a no-op when not `enabled`.

    Everything else written to fd 2 reaches the previous fd 2 in order, line by line, as it
    arrives; a last unterminated line is written on exit.
    """
    if not enabled:
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable fd 2 (e.g. closed): nothing to filter
        yield
        return
    read_end, write_end = os.pipe()
    with contextlib.suppress(OSError, AttributeError):  # Linux only; elsewhere the default size
        import fcntl

        fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, _PIPE_SIZE)
    os.dup2(write_end, 2)
    os.close(write_end)
    reader = threading.Thread(target=_forward, args=(read_end, saved), name="tfperf-stderr-filter",
                              daemon=True)
    reader.start()
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        os.dup2(saved, 2)  # closes the pipe's last write end: the reader sees EOF
        reader.join(timeout=5)
        if not reader.is_alive():  # else a child process still holds the pipe: leave `saved` open
            os.close(saved)


def _forward(read_end: int, out: int) -> None:
    """Copy lines from `read_end` to `out`, dropping noise lines; returns at EOF."""
    pending = b""
    try:
        while True:
            chunk = os.read(read_end, 65536)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            kept = b"".join(line + b"\n" for line in lines if not is_noise(line))
            if kept:
                _write_all(out, kept)
        if pending and not is_noise(pending):
            _write_all(out, pending)
    except OSError:
        pass
    finally:
        os.close(read_end)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


# -- the plugin's side: filter while TensorFlow is first imported -----------------------------


class _QuietLoader:
    """Runs the real loader's `exec_module` under `filter_stderr`, then gives the module back."""

    def __init__(self, loader) -> None:
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        try:
            with filter_stderr():
                self._loader.exec_module(module)
        finally:  # the module keeps its real loader (importlib.resources, reloads)
            module.__loader__ = self._loader
            if getattr(module, "__spec__", None) is not None:
                module.__spec__.loader = self._loader

    def __getattr__(self, name: str):
        return getattr(self._loader, name)


class QuietFirstImport:
    """A `sys.meta_path` finder that filters fd 2 while one of `names` is first imported.

    It finds nothing itself: on the first import of a watched top-level module it takes itself
    out of `sys.meta_path`, asks the other finders for the spec, and wraps the loader so that
    the module's body runs under `filter_stderr()`. Other imports pass through untouched.
    """

    def __init__(self, names: tuple[str, ...] = ("tensorflow",)) -> None:
        self.names = names

    def find_spec(self, fullname: str, path=None, target=None):
        if fullname not in self.names or fullname in sys.modules:
            return None
        self.remove()
        from importlib.util import find_spec

        spec = find_spec(fullname)
        if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _QuietLoader(spec.loader)
        return spec

    def remove(self) -> None:
        """Take this finder out of `sys.meta_path` (no error when it is not there)."""
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)


def quiet_first_import(names: tuple[str, ...] = ("tensorflow",),
                       environ: Mapping[str, str] = os.environ) -> QuietFirstImport | None:
    """Filter TensorFlow's start-up lines from fd 2 while the first of `names` loads.

    Returns the installed finder (call `.remove()` when the run ends), or None when nothing was
    installed: the user asked for TensorFlow's lines (`wants_quiet`), or every one of `names` is
    already imported (its start-up lines are already out) or watched by a finder installed before.
    """
    watched = {name for finder in sys.meta_path if isinstance(finder, QuietFirstImport)
               for name in finder.names}
    names = tuple(name for name in names if name not in sys.modules and name not in watched)
    if not wants_quiet(environ) or not names:
        return None
    finder = QuietFirstImport(names)
    sys.meta_path.insert(0, finder)
    return finder


def stop_quiet_first_import() -> None:
    """Take every `QuietFirstImport` out of `sys.meta_path` (the run ended before TF loaded)."""
    for finder in [f for f in sys.meta_path if isinstance(f, QuietFirstImport)]:
        finder.remove()
