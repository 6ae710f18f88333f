#!/bin/bash
# Run a jaxdiv study on one GPU host (one or more GPUs; the mesh spans them all, no --distributed needed).
#
#   bash launch/gpu.sh configs/demo.py runs/demo-gpu [--config.FIELD=VALUE ...]
#
# Installs jaxdiv with CUDA 13 JAX into .venv-gpu on first use. Stacks of runs use vmap on GPU (4× the
# throughput of sequential runs at 16 demo-size runs on an H200, bench/results/h200_multi_run.txt).
# For bitwise-reproducible runs (e.g. kill-and-resume equality), export
# XLA_FLAGS=--xla_gpu_deterministic_ops=true first; it costs some speed.
set -euo pipefail
CONFIG=${1:?usage: launch/gpu.sh CONFIG WORKDIR [--config.FIELD=VALUE ...]}
WORKDIR=${2:?usage: launch/gpu.sh CONFIG WORKDIR}; shift 2
cd "$(dirname "$0")/.."
if [ ! -x .venv-gpu/bin/jaxdiv ]; then
  bash scripts/install_apt.sh
  python3 -m venv .venv-gpu && .venv-gpu/bin/pip install -q -U pip && .venv-gpu/bin/pip install -q -e '.[cuda]'
fi
nvidia-smi -L
.venv-gpu/bin/jaxdiv sweep --config "$CONFIG" --workdir "$WORKDIR" "$@"
