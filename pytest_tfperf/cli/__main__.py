"""`python -m pytest_tfperf.cli` runs the `tfperf` console script."""
import sys

from pytest_tfperf.cli import main

if __name__ == "__main__":  # importing this module (pkgutil.walk_packages) runs nothing
    sys.exit(main())
