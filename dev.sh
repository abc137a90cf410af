#!/usr/bin/env bash
# Set up (once) and run pytest-tfperf's jobs on a machine with only Python >= 3.10:
#   ./dev.sh example   the main job: pytest --tfperf-report over example_project/
#   ./dev.sh test      the project's own test suite
#   ./dev.sh oldest    both, on the oldest TensorFlow pyproject.toml promises (tensorflow>=2.16),
#                      in its own environment .venv-oldest (TF_OLDEST picks the pin)
# Extra arguments go to pytest (for `oldest`: to the test suite's run). The virtual environment
# lives in .venv (PYTHON picks the interpreter).
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
TF_OLDEST=${TF_OLDEST:-tensorflow-cpu==2.16.2}

# venv DIR [EXTRA_REQUIREMENT]: create DIR once, (re)install the project when pyproject changed
venv() {
  local dir=$1 extra=${2:-}
  if [ ! -x "$dir/bin/python" ]; then
    "$PY" -m venv "$dir"
  fi
  local stamp=$dir/.tfperf-installed want tf
  want="$(cat pyproject.toml | cksum) $extra +tf-keras"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    "$dir/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
    # shellcheck disable=SC2086  # $extra is one requirement or nothing
    "$dir/bin/python" -m pip install -q --disable-pip-version-check -e ".[cpu,test]" $extra
    # tf-keras (Keras 2) for the tests of Keras-2 models and SavedModels: it depends on the full
    # `tensorflow` wheel, which must not land beside tensorflow-cpu, so no dependencies
    tf=$("$dir/bin/python" -c 'import tensorflow as tf; print(".".join(tf.__version__.split(".")[:2]))')
    "$dir/bin/python" -m pip install -q --disable-pip-version-check --no-deps "tf-keras==$tf.*"
    echo "$want" > "$stamp"
  fi
}

export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
job=${1:-}
[ $# -gt 0 ] && shift
case "$job" in
  example)
    venv .venv
    exec .venv/bin/pytest example_project --tfperf-report "$@" ;;
  test)
    venv .venv
    # the layer contracts (pyproject.toml [tool.importlinter]) are part of the test job
    .venv/bin/lint-imports --no-cache || { echo "dev.sh: import-linter contracts broken" >&2; exit 1; }
    set +e
    .venv/bin/pytest tests -n 2 "$@"
    rc=$?
    if [ $rc -eq 5 ]; then echo "dev.sh: pytest collected no tests: that is a failure" >&2; rc=1; fi
    exit $rc ;;
  oldest)
    venv .venv-oldest "$TF_OLDEST"
    .venv-oldest/bin/python -c "import tensorflow as tf; print('dev.sh oldest: TensorFlow', tf.__version__)"
    set +e
    .venv-oldest/bin/pytest example_project --tfperf-report
    rc_example=$?
    .venv-oldest/bin/pytest tests -n 2 "$@"
    rc=$?
    if [ $rc -eq 5 ]; then echo "dev.sh: pytest collected no tests: that is a failure" >&2; rc=1; fi
    [ $rc_example -ne 0 ] && { echo "dev.sh oldest: the example project failed (exit $rc_example)" >&2; [ $rc -eq 0 ] && rc=$rc_example; }
    exit $rc ;;
  *) echo "usage: ./dev.sh example|test|oldest [pytest args]" >&2; exit 2 ;;
esac
