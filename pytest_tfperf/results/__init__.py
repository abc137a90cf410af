"""Typed records of a run and the session's results."""
