"""Usage errors show the user's line, not pytest-tfperf's source.

A `TfperfError` (a bad model path, a marker used wrongly, a timing setting out of range) is about
what the test asked for: its traceback is cut at the first frame inside pytest_tfperf, so pytest
prints the test's own line and the message, not some 40 lines of plugin source. Other exceptions
(a bug of ours, TensorFlow's own errors) keep every frame, and `--fulltrace` keeps them all.
"""
from __future__ import annotations

import os

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_FRAMEWORK = (os.sep + "_pytest" + os.sep, os.sep + "pluggy" + os.sep)


def hide_plugin_frames(item, call) -> None:
    """Cut `call.excinfo`'s traceback before our frames when it holds a `TfperfError` (in place).

    When nothing but pytest's own frames precede ours (a fixture of ours raised in setup), the
    first of ours stays: it names the fixture.
    """
    from pytest_tfperf.errors import TfperfError

    excinfo = call.excinfo
    if excinfo is None or not excinfo.errisinstance(TfperfError) \
            or item.config.getoption("fulltrace", False):
        return
    entries = excinfo.traceback
    paths = [str(entry.path) for entry in entries]
    ours = [p.startswith(_PACKAGE) for p in paths]
    users = [k for k, p in enumerate(paths)
             if not ours[k] and not any(part in p for part in _FRAMEWORK)]
    # the user's frame that called us: a user frame followed by one of ours (our hook wrappers
    # sit below the test function: they are its callers, not callees)
    last = next((k for k in users if k + 1 < len(entries) and ours[k + 1]), None)
    if last is None and not users and any(ours):
        last = ours.index(True)  # a fixture of ours raised in setup: keep it, it names the fixture
    if last is None:
        return
    # pytest re-reads the raw traceback from an entry on (`Traceback.cut`), so the frames after
    # the kept one are cut from the traceback objects themselves
    entries[last]._rawentry.tb_next = None
    excinfo.traceback = type(entries)(excinfo.tb)
