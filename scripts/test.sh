#!/usr/bin/env bash
# The whole test suite, as CI runs it:
#   1. lint; build the wheel and sdist (python -m build) and `twine check` them;
#   2. install the built wheel (not editable) into each Databricks stack (DBR 18.x / serverless 5,
#      DBR 19.x, serverless 6; Python 3.12) the way a user would: pip alone, on the bare runtime,
#      must not want to move a runtime pin; `pip install -c <constraints>` must leave every pin
#      where it was; and a first answer (terminal, %%dbchat cell, ChatPanel) must come from the
#      installed wheel;
#   3. the current JupyterLab stack (editable .venv): unit, integration, kernel and nbval tests;
#   4. the browser end-to-end tests, once (JupyterLab + Debian chromium);
#   5. each Databricks stack: the same tests against its installed wheel. Files listed in
#      ci/stack-independent.txt run on the current stack and on DBR 19.x only;
#   6. MLflow's own model servers (.venv-mlflow, scripts/setup-mlflow-server.sh) with the client
#      talking to them: tests/mlflow_server, current stack only (CI=true: fails if they cannot run).
#   7. a real model: scripts/setup-llama.sh (llama.cpp's server + SmolLM2-135M) and the `real_llm`
#      tests, once, on the current stack, under CI=true (a server that cannot start fails them);
#      every other step deselects `real_llm`.
#   Steps 2-7 run as parallel streams (logs in test-artifacts/logs/).
# Installs what it needs (Debian chromium and a Java runtime, the virtual environments) on first
# run. Seconds per step: test-artifacts/times.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1
unset PYTHONPATH  # every stack imports dbchat_magic from its own install
rm -rf test-artifacts/logs test-artifacts/pins-*
mkdir -p test-artifacts/logs
: > test-artifacts/times.txt
STARTED=$(date +%s)
NBVAL=(--nbval --nbval-sanitize-with notebooks/sanitize.cfg)
# pandas 2 on the Databricks stacks: a few more spellings masked (ci/sanitize-pandas2.cfg)
cat notebooks/sanitize.cfg ci/sanitize-pandas2.cfg > test-artifacts/sanitize-databricks.cfg
NBVAL_DATABRICKS=(--nbval --nbval-sanitize-with test-artifacts/sanitize-databricks.cfg)

cpu_seconds() {  # the second line of `times` (finished children: user system) → whole seconds
  tail -n 1 | awk '{ for (i = 1; i <= 2; i++) { split($i, t, /[ms]/); s += t[1] * 60 + t[2] }
                     printf "%d", s }'
}

timed() {  # label, command...: run it; its wall-clock and CPU seconds go to times.txt
  local label=$1 start cpu0 cpu1 tmp
  shift
  tmp=$(mktemp)
  start=$(date +%s)
  times > "$tmp"  # `times` in this shell: a $(…) subshell would count its own children only
  cpu0=$(cpu_seconds < "$tmp")
  echo "== $label"
  "$@"
  times > "$tmp"
  cpu1=$(cpu_seconds < "$tmp")
  rm -f "$tmp"
  printf '%-62s %5d s wall %5d s CPU\n' "$label" "$(($(date +%s) - start))" "$((cpu1 - cpu0))" \
    | tee -a test-artifacts/times.txt
}

apt_install() {  # command, package, why
  command -v "$1" >/dev/null 2>&1 && return 0
  echo "== installing Debian $2 ($3)"
  local sudo=sudo
  [ "$(id -u)" = 0 ] && sudo=
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$2" >/dev/null
}

pip_() {  # python, pip args...: pip without the local indexes' "is ignored" warnings
  local py=$1
  shift
  "$py" -m pip "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}

constraints_of() { case $1 in sl6) echo ci/constraints/serverless6.txt ;; *) echo "ci/constraints/$1.txt" ;; esac; }

build_dist() {
  rm -rf dist
  .venv-tools/bin/python -m build --no-isolation --outdir dist . >/dev/null
  .venv-tools/bin/twine check --strict dist/*
}

install_wheel() {  # stack: install dist/*.whl as a user would, and prove no runtime pin moved
  local py=.venv-$1/bin/python cons out=test-artifacts/pins-$1 wheel
  cons=$(constraints_of "$1")
  wheel=$(ls dist/*.whl)
  mkdir -p "$out"
  pip_ "$py" uninstall -q -y dbchat-magic
  "$py" ci/check_pins.py snapshot "$cons" "$out/before.json"
  # As on the runtime (its packages only, no constraints): what would pip install or replace?
  pip_ ".venv-$1-runtime/bin/python" install -q --dry-run --report "$out/pip-alone.json" "$wheel"
  "$py" ci/check_pins.py report "$cons" "$out/pip-alone.json"
  pip_ "$py" install -q -c "$cons" "$wheel"
  "$py" ci/check_pins.py snapshot "$cons" "$out/after.json"
  "$py" ci/check_pins.py compare "$cons" "$out/before.json" "$out/after.json"
  pip_ "$py" check
  pip_ "$py" freeze > "$out/freeze.txt"
  "$py" "$PWD/ci/smoke_installed.py"
}

stack_tests() {  # stack: the suite against the stack's installed wheel (run from the checkout)
  local py=.venv-$1/bin/python skip=()
  "$py" -c 'import dbchat_magic, sys; f = dbchat_magic.__file__
sys.exit(0 if "/site-packages/" in f else f"{f} is not the installed wheel")'
  if [ "$1" != dbr19 ]; then
    while read -r path; do skip+=("--ignore=$path"); done < <(grep -v '^#' ci/stack-independent.txt)
  fi
  "$py" -m pytest -q -p no:cacheprovider tests notebooks --ignore=tests/e2e \
    --ignore=tests/mlflow_server "${skip[@]}" \
    "${NBVAL_DATABRICKS[@]}" -m "not e2e and not spark and not polars and not real_llm" \
    --junitxml="test-artifacts/$1.xml"
}

wheel_step() {  # stack: install_wheel, then record its exit status for the stack's tests
  local status
  mkdir -p "test-artifacts/pins-$1"
  set +e
  (set -e; timed "wheel: install + pins + first answer on $1" install_wheel "$1")
  status=$?
  set -e
  echo "$status" > "test-artifacts/pins-$1/status"
  return "$status"
}

tests_step() {  # stack: once its wheel is in (another stream may be installing it), its tests
  while [ ! -f "test-artifacts/pins-$1/status" ]; do sleep 2; done
  if [ "$(cat "test-artifacts/pins-$1/status")" != 0 ]; then
    echo "== $1: the wheel did not install; its tests are not run"
    return 1
  fi
  timed "$1 stack: tests + notebooks from the installed wheel" stack_tests "$1"
}

mlflow_tests() {  # the MLflow model-server venv (cached by its stamp), then the tests using it
  scripts/setup-mlflow-server.sh
  .venv/bin/python -m pytest -q -p no:cacheprovider tests/mlflow_server \
    --junitxml=test-artifacts/mlflow.xml
}

step() {  # name: one step of a stream
  case $1 in
    mlflow) timed "MLflow servers: set-up + tests (current stack)" mlflow_tests ;;
    wheel-*) wheel_step "${1#wheel-}" ;;
    tests-*) tests_step "${1#tests-}" ;;
    # Separate process: Playwright's sync API keeps an event loop running in the main thread.
    e2e) timed "browser end-to-end (JupyterLab + Debian chromium)" \
           .venv/bin/python -m pytest -q -p no:cacheprovider tests/e2e \
           --junitxml=test-artifacts/e2e.xml ;;
  esac
}

real_llm_tests() {  # one step: the server and model, then the tests that talk to them
  scripts/setup-llama.sh
  CI=true .venv/bin/python -m pytest -q -p no:cacheprovider -m real_llm tests/real_llm \
    --junitxml=test-artifacts/real-llm.xml
}

sequence() {  # steps...: one after the other, stopping at the first failure
  local name
  for name in "$@"; do step "$name"; done
}

STREAMS=()
start_stream() {  # name, command...: run it in the background, output in test-artifacts/logs/
  "${@:2}" > "test-artifacts/logs/$1.log" 2>&1 &
  STREAMS+=("$1:$!")
}

wait_streams() {  # wait for every stream; show each one's end (a failed one's last 150 lines)
  local entry name failed=0
  for entry in "${STREAMS[@]}"; do
    name=${entry%%:*}
    if wait "${entry##*:}"; then
      echo "== $name: passed ($(tail -n 2 "test-artifacts/logs/$name.log" | head -n 1))"
    else
      failed=1
      echo "== $name: FAILED (test-artifacts/logs/$name.log)"
      tail -n 150 "test-artifacts/logs/$name.log"
    fi
  done
  STREAMS=()
  return "$failed"
}

apt_install chromium chromium "browser tests"
apt_install java default-jre-headless "pyspark local mode"
timed "set-up: virtual environments" scripts/setup-venvs.sh all
timed "ruff" .venv/bin/ruff check src tests bench ci
timed "mypy" scripts/typecheck.sh .venv/bin/python
timed "build: wheel + sdist, twine check" build_dist

# The Databricks stacks live in a shared cache (scripts/setup-venvs.sh): one test run at a time.
CACHE=${DBCHAT_VENV_CACHE:-$HOME/.cache/dbchat-magic/venvs}
exec 8>"$CACHE/.lock-test-run"
flock 8
# Six streams at once, each with its log in test-artifacts/logs/: the tests wait on kernels,
# browsers, the JVM and streamed answers far more than they compute, and none depends on timing.
start_stream current timed \
  "current stack (IPython 9 / ipykernel 7.4 / ipywidgets 8): tests + notebooks" \
  .venv/bin/python -m pytest -q -p no:cacheprovider tests notebooks --ignore=tests/e2e \
  --ignore=tests/mlflow_server "${NBVAL[@]}" -m "not spark and not polars and not real_llm" \
  --junitxml=test-artifacts/current.xml
start_stream mlflow step mlflow
start_stream current-spark-polars timed "current stack: pyspark (local + Connect) and polars tests" \
  .venv/bin/python -m pytest -q -p no:cacheprovider tests --ignore=tests/e2e \
  -m "spark or polars" --junitxml=test-artifacts/current-spark-polars.xml
start_stream real-llm timed "current stack: a real model (llama.cpp + SmolLM2, real_llm tests)" \
  real_llm_tests
# The browser tests use DBR 18.x's stack as a second kernel: its wheel goes in first.
start_stream e2e sequence wheel-dbr18 e2e
start_stream dbr19 sequence wheel-dbr19 tests-dbr19
start_stream sl6-dbr18 sequence wheel-sl6 tests-sl6 tests-dbr18
wait_streams
printf '%-62s %5d s wall\n' "total" "$(($(date +%s) - STARTED))" | tee -a test-artifacts/times.txt
