"""`python -m pytest_tfperf.cli` runs the `tfperf` console script."""
import sys

from . import main

sys.exit(main())
