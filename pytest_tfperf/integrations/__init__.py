"""Bridges to other pytest plugins (pytest-benchmark); each imports its plugin lazily."""
