"""`atomic.unwritable`: the one writable-path check (CLI outputs, `to_tflite(path=)`, the
plugin's report options), before any slow work."""
from __future__ import annotations

import os

import pytest

from pytest_tfperf.atomic import unwritable, write_text


def test_a_path_that_can_be_written_has_no_problem_missing_folders_included(tmp_path):
    assert unwritable(tmp_path / "run.json") is None
    assert unwritable(tmp_path / "new" / "deeper" / "run.json") is None  # write_text makes them
    write_text(tmp_path / "new" / "deeper" / "run.json", "{}")
    assert unwritable(tmp_path / "new" / "deeper" / "run.json") is None  # replaced atomically


def test_a_directory_or_a_parent_that_is_a_file_is_named(tmp_path, monkeypatch):
    assert unwritable(tmp_path) == (str(tmp_path), "is a directory")
    (tmp_path / "afile").write_text("x")
    assert unwritable(tmp_path / "afile" / "sub" / "run.json") == (
        str(tmp_path / "afile"), "is a file, not a directory")
    monkeypatch.chdir(tmp_path)  # relative paths are named as given
    assert unwritable("afile/run.json") == ("afile", "is a file, not a directory")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_a_read_only_folder_is_named(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert unwritable(locked / "out" / "run.json") == (str(locked), "is not writable")
    finally:
        locked.chmod(0o700)
