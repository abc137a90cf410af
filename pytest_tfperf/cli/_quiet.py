"""Keep TensorFlow's and LiteRT's log lines off the terminal while a `tfperf` command runs.

`TF_CPP_MIN_LOG_LEVEL=2` (set by `_common` before TensorFlow loads) silences most of TensorFlow's
C++ info and warning lines, but not all of them in TF 2.19+: the lines logged while TensorFlow's
shared libraries load are written before absl logging is initialised, which ignores the level
(`WARNING: All log messages before absl::InitializeLog() ...` and `I0000 ... port.cc] oneDNN
custom operations are on ...`, twice), and LiteRT's own logger prints `INFO: Created TensorFlow
Lite XNNPACK delegate for CPU.` whatever the level. So, unless the user set
`TF_CPP_MIN_LOG_LEVEL` (then they asked for TensorFlow's lines and get every one), the command
runs with file descriptor 2 piped through a filter that drops those info/warning lines and passes
everything else through as it arrives: our warnings and errors, Python tracebacks, and
TensorFlow's error (E) and fatal (F) lines.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import threading

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


@contextlib.contextmanager
def quiet_tensorflow(enabled: bool = True):
    """Run the body with stderr (fd 2) filtered through `is_noise`; a no-op when not `enabled`.

    Also sets the Python `tensorflow` and `absl` loggers to ERROR (their WARNING lines are the
    Python side of the same noise). Everything else written to fd 2 reaches the real stderr in
    order, line by line, as it arrives; a last unterminated line is written on exit.
    """
    if not enabled:
        yield
        return
    for name in ("tensorflow", "absl"):
        logging.getLogger(name).setLevel(logging.ERROR)
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
