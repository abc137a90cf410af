#!/usr/bin/env bash
# Set up (once) and run pytest-tfperf's two jobs on a machine with only Python >= 3.10:
#   ./dev.sh example   the main job: pytest --tfperf-report over example_project/
#   ./dev.sh test      the project's own test suite
# Extra arguments go to pytest. The virtual environment lives in .venv (PYTHON picks the interpreter).
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.tfperf-installed
want=$(cat pyproject.toml | cksum)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[cpu,test]"
  echo "$want" > "$stamp"
fi
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
job=${1:-}
[ $# -gt 0 ] && shift
case "$job" in
  example) exec .venv/bin/pytest example_project --tfperf-report "$@" ;;
  test)
    # the layer contracts (pyproject.toml [tool.importlinter]) are part of the test job
    .venv/bin/lint-imports --no-cache || { echo "dev.sh: import-linter contracts broken" >&2; exit 1; }
    set +e
    .venv/bin/pytest tests -n 2 "$@"
    rc=$?
    if [ $rc -eq 5 ]; then echo "dev.sh: pytest collected no tests: that is a failure" >&2; rc=1; fi
    exit $rc ;;
  *) echo "usage: ./dev.sh example|test [pytest args]" >&2; exit 2 ;;
esac
