#!/bin/bash
# The GPU checks as one script, for a lent GPU machine (see bench/README.md).
# Carry .whl (grain, ml_collections, tfds and their small deps for the machine's Python) beside it.
set -o pipefail
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site:$PWD || exit 1
fi
export PYTHONUNBUFFERED=1 PYTHONPATH=${PYTHONPATH:-$PWD}
OUT=${OUT:-/tmp/gpu_checks}; mkdir -p $OUT
nvidia-smi -L | tee $OUT/device.txt
python3 -c "import jax; print(jax.__version__, jax.devices())" | tee -a $OUT/device.txt
timeout 100 python3 -m bench.determinism 2>&1 | grep -v Warning | tee $OUT/determinism.txt
timeout 160 python3 -m bench.train_resnet --widths 64 16 --batch 256 --resolution 32 --repeats 5 --bf16 2>&1 \
  | grep -v Warning | tee $OUT/train_resnet.txt
timeout 200 python3 -m bench.multi_run --runs 1 4 16 --width 16 --resolution 24 --batch 64 --strategies sequential vmap unroll 2>&1 \
  | grep -v Warning | tee $OUT/multi_run.txt
