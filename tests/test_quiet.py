"""The plugin's TensorFlow start-up filter: fd 2 filtered while TF is first imported, and only then."""
from __future__ import annotations

import os
import sys
import textwrap

import pytest

from pytest_tfperf.quiet import QuietFirstImport, quiet_first_import, stop_quiet_first_import, wants_quiet

# what TF 2.21 writes to fd 2 while its shared libraries load, with a user's line in between
NOISY_INIT = textwrap.dedent('''
    import os
    os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n")
    os.write(2, b"I0000 00:00:1796229129.330659    9581 port.cc:153] oneDNN custom operations are on.\\n")
    os.write(2, b"a line of the package's own\\n")
    os.write(2, b"E0000 00:00:1796229129.330659    9581 x.cc:1] a real error\\n")
    VALUE = 42
''')


@pytest.fixture
def noisy_package(tmp_path, monkeypatch):
    """A package named like a fresh module whose import writes TF's start-up lines to fd 2."""
    name = f"tfperf_noisy_{os.getpid()}_{tmp_path.name}".replace("-", "_")
    (tmp_path / name).mkdir()
    (tmp_path / name / "__init__.py").write_text(NOISY_INIT)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)
    for finder in [f for f in sys.meta_path if isinstance(f, QuietFirstImport) and name in f.names]:
        finder.remove()


def test_first_import_is_filtered_and_everything_else_passes(noisy_package, capfd):
    finder = quiet_first_import((noisy_package,), environ={})
    assert isinstance(finder, QuietFirstImport) and sys.meta_path[0] is finder
    print("before", file=sys.stderr, flush=True)
    module = __import__(noisy_package)
    assert module.VALUE == 42
    assert finder not in sys.meta_path  # one import only, then out of the way
    assert type(module.__loader__).__name__ == "SourceFileLoader" and module.__spec__.loader is module.__loader__
    err = capfd.readouterr().err
    assert err.splitlines() == ["before", "a line of the package's own",
                                "E0000 00:00:1796229129.330659    9581 x.cc:1] a real error"]


def test_the_user_asking_for_tensorflow_lines_gets_them(noisy_package, capfd):
    assert quiet_first_import((noisy_package,), environ={"TF_CPP_MIN_LOG_LEVEL": "0"}) is None
    __import__(noisy_package)
    assert "oneDNN custom operations" in capfd.readouterr().err


def test_nothing_is_installed_for_a_module_already_loaded_or_twice(noisy_package):
    assert quiet_first_import(("os",), environ={}) is None  # its lines (if any) are out already
    others = [f for f in sys.meta_path if isinstance(f, QuietFirstImport)]  # the outer run's own
    first = quiet_first_import((noisy_package,), environ={})
    assert first is not None and quiet_first_import((noisy_package,), environ={}) is None
    stop_quiet_first_import()  # what the plugin's pytest_unconfigure does
    assert not any(isinstance(f, QuietFirstImport) for f in sys.meta_path)
    sys.meta_path[:0] = others


@pytest.mark.parametrize("level, quiet", [(None, True), ("2", True), ("3", True), ("1", False),
                                          ("0", False), ("verbose", False)])
def test_which_levels_ask_for_tensorflow_lines(level, quiet):
    assert wants_quiet({} if level is None else {"TF_CPP_MIN_LOG_LEVEL": level}) is quiet
