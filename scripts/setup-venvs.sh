#!/usr/bin/env bash
# Create (or reuse) the virtual environments the project is tested on:
#   .venv         current JupyterLab stack: IPython 9, ipykernel 7.4, ipywidgets 8 (python3), with an
#                 editable install of this checkout — the development environment
#   .venv-dbr18   Databricks Runtime 18.x and serverless environment 5 (Python 3.12)
#   .venv-dbr19   Databricks Runtime 19.x (Python 3.12)
#   .venv-sl6     Databricks serverless environment 6 (Python 3.12)
#   .venv-tools   build, twine, hatchling (builds and checks the wheel and sdist)
#   .venv-<stack>-runtime  a Databricks stack's pins alone, as the runtime preinstalls them: where
#                 scripts/test.sh asks pip what a user's `%pip install` would change
# A Databricks stack holds its runtime's preinstalled versions (ci/constraints/<stack>.txt, installed
# as they are), dbchat-magic's dependencies and test tools resolved under those pins — but not
# dbchat-magic itself: scripts/test.sh installs the built wheel into it, as a user would.
# The Databricks stacks and the tools live outside the checkout, in $DBCHAT_VENV_CACHE (default
# ~/.cache/dbchat-magic/venvs), one directory per hash of pyproject's dependencies + the stack's
# constraints + this script; the checkout gets symlinks. A new clone reuses them; a change to any of
# those inputs builds a new one (the three newest of each stack are kept).
# Usage: scripts/setup-venvs.sh [current|tools|databricks|dbr18|dbr19|sl6|all]   (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1
PY=${PYTHON:-python3}
CACHE=${DBCHAT_VENV_CACHE:-$HOME/.cache/dbchat-magic/venvs}
which_envs=${1:-all}
DATABRICKS_STACKS="dbr18 dbr19 sl6"
constraints_of() { case $1 in sl6) echo ci/constraints/serverless6.txt ;; *) echo "ci/constraints/$1.txt" ;; esac; }

pip_q() {  # python, pip args...: quiet pip without the local indexes' "is ignored" noise
  local py=$1; shift
  "$py" -m pip "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}

deps_of() {  # extras...: pyproject's requirement strings (base + the named extras), one a line
  "$PY" - "$@" <<'EOF'
import sys, tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
extras = project.get("optional-dependencies", {})
print("\n".join(project["dependencies"] + [r for e in sys.argv[1:] for r in extras[e]]))
EOF
}

key_of() {  # files...: 16 hex digits over pyproject's dependencies, this script and the files
  { deps_of test databricks e2e spark polars bench; cat scripts/setup-venvs.sh "$@"; } \
    | sha256sum | cut -c1-16
}

find_python312() {  # prints a working CPython 3.12, installing one with uv when none is found
  local c
  for c in "${PYTHON312:-}" python3.12 "$HOME"/.pyenv/versions/3.12*/bin/python3.12 \
           /usr/local/bin/python3.12 /usr/bin/python3.12; do
    if [ -n "$c" ] && "$c" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null; then
      "$c" -c 'import sys; print(sys.executable)'; return 0
    fi
  done
  echo "== no Python 3.12 found: installing one with uv" >&2
  make_tools >&2
  .venv-tools/bin/uv python install 3.12 >&2
  .venv-tools/bin/uv python find 3.12
}

cached_env() {  # name, python, key, builder function: build $CACHE/name-key once, link .venv-name
  local name=$1 python=$2 key=$3 builder=$4 dir
  dir=$CACHE/$name-$key
  mkdir -p "$CACHE"
  (
    flock 9
    if [ ! -f "$dir/.complete" ]; then
      echo "== setting up $name in $dir"
      rm -rf "$dir"
      "$python" -m venv "$dir"
      "$builder" "$dir/bin/python" "$name"
      touch "$dir/.complete"
      ls -dt "$CACHE/$name"-* | tail -n +4 | xargs -r rm -rf  # keep the three newest
    fi
  ) 9>"$CACHE/.lock-$name"
  ln -sfn "$dir" ".venv-$name"
}

build_tools() {
  pip_q "$1" install -q --upgrade pip
  pip_q "$1" install -q "build>=1.2" "twine>=6.1" "hatchling>=1.27" uv
}
make_tools() {
  cached_env tools "$PY" "$(sha256sum < scripts/setup-venvs.sh | cut -c1-16)" build_tools
}

build_databricks() {  # python, stack: the runtime's pins and our deps, one resolution; the pip
  # that comes with the interpreter (not upgraded: closer to a runtime's own than the newest)
  local cons reqs
  cons=$(constraints_of "$2")
  reqs=$(mktemp)
  deps_of test databricks > "$reqs"
  pip_q "$1" install -q -r "$cons" -r "$reqs" -c "$cons"
  rm -f "$reqs"
}

build_runtime() { pip_q "$1" install -q -r "$(constraints_of "${2%-runtime}")"; }

make_databricks() {  # stack: the test stack, and the bare runtime (its pins only) beside it
  local cons
  cons=$(constraints_of "$1")
  PY312=${PY312:-$(find_python312)}
  cached_env "$1" "$PY312" "$(key_of "$cons" <("$PY312" -VV))" build_databricks
  cached_env "$1-runtime" "$PY312" \
    "$(cat scripts/setup-venvs.sh "$cons" <("$PY312" -VV) | sha256sum | cut -c1-16)" build_runtime
}

make_current() {  # in the checkout: its editable install points here
  local want
  want=$(key_of)
  if [ -x .venv/bin/python ] && [ "$(cat .venv/.stamp 2>/dev/null)" = "$want" ]; then return 0; fi
  echo "== setting up .venv"
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  pip_q .venv/bin/python install -q --upgrade pip
  pip_q .venv/bin/python install -q -e ".[test,e2e,spark,polars,bench,databricks,mlflow]" \
    "ipython>=9" "ipykernel==7.4.*" "ipywidgets==8.1.*"
  echo "$want" > .venv/.stamp
}

make_all_databricks() {  # the three stacks at once: building one mostly waits on downloads
  local s pids=()
  PY312=${PY312:-$(find_python312)}
  for s in $DATABRICKS_STACKS; do make_databricks "$s" & pids+=("$!"); done
  for s in "${pids[@]}"; do wait "$s"; done
}

case $which_envs in
  all) make_current; make_tools; make_all_databricks ;;
  current) make_current ;;
  tools) make_tools ;;
  databricks) make_all_databricks ;;
  dbr18|dbr19|sl6) make_databricks "$which_envs" ;;
  *) echo "usage: scripts/setup-venvs.sh [current|tools|databricks|dbr18|dbr19|sl6|all]" >&2
     exit 2 ;;
esac
