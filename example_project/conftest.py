"""Example project conftest: build the models once (cached in .model_cache/), share them."""
from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.path.join(HERE, ".model_cache")
sys.path.insert(0, HERE)  # `import models`


def pytest_configure(config):
    from models.build import build_all

    build_all(CACHE)
