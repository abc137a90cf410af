"""Keep TensorFlow's and LiteRT's log lines off the terminal while a `tfperf` command runs.

The filter itself is `pytest_tfperf.quiet` (the plugin uses it too); a command runs with file
descriptor 2 filtered from start to end, unless the user asked for TensorFlow's lines
(`quiet.wants_quiet`: TF_CPP_MIN_LOG_LEVEL set to 0 or 1), and with the Python `tensorflow` and
`absl` loggers at ERROR (their WARNING lines are the Python side of the same noise).
"""
from __future__ import annotations

import contextlib
import logging

from pytest_tfperf.quiet import is_noise, wants_quiet  # noqa: F401  (re-exported for the commands and tests)
from pytest_tfperf.quiet import filter_stderr


@contextlib.contextmanager
def quiet_tensorflow(enabled: bool = True):
    """Run the body with TensorFlow's info/warning lines filtered from fd 2; a no-op when not `enabled`.

    Everything else written to fd 2 reaches the real stderr in order, line by line, as it
    arrives; a last unterminated line is written on exit.
    """
    if enabled:
        for name in ("tensorflow", "absl"):
            logging.getLogger(name).setLevel(logging.ERROR)
    with filter_stderr(enabled):
        yield
