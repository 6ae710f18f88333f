#!/bin/bash
# Run a jaxdiv study on a Cloud TPU pod slice: create the TPU VM, install jaxdiv (a wheel built from this
# clone) on every worker, and run the same command on all workers; `--distributed` makes each call
# jax.distributed.initialize() first, so the runs/data mesh spans every chip and each host feeds its own
# shard of every batch. Process 0 alone writes the results table, fit and report into WORKDIR.
#
#   PROJECT=my-project ZONE=us-central2-b TPU=jaxdiv-v4-32 TYPE=v4-32 \
#   DATA=gs://my-bucket/tensorflow_datasets WORKDIR=gs://my-bucket/runs/imagenet \
#   bash launch/tpu_pod.sh configs/imagenet_resnet18.py
#
# DATA must hold imagenet2012 and the transfer sets prepared as array_record (docs/guide/datasets.md); it is
# passed as --config.data.data_dir. WORKDIR on GCS keeps checkpoints and the results table across
# preemptions: rerun this script to resume.
set -euo pipefail
CONFIG=${1:?usage: launch/tpu_pod.sh CONFIG [--config.FIELD=VALUE ...]}; shift || true
: "${PROJECT:?}" "${ZONE:?}" "${TPU:?}" "${TYPE:?}" "${DATA:?}" "${WORKDIR:?}"
VERSION=${VERSION:-tpu-ubuntu2204-base}
ROOT=$(cd "$(dirname "$0")/.." && pwd)

if ! gcloud compute tpus tpu-vm describe "$TPU" --project "$PROJECT" --zone "$ZONE" >/dev/null 2>&1; then
  gcloud compute tpus tpu-vm create "$TPU" --project "$PROJECT" --zone "$ZONE" --accelerator-type "$TYPE" \
    --version "$VERSION" ${SPOT:+--spot}
fi
on_all() {
  gcloud compute tpus tpu-vm ssh "$TPU" --project "$PROJECT" --zone "$ZONE" --worker=all --command "$1"
}
CONFIG_FILE=${CONFIG%%:*}; CONFIG_ARG=${CONFIG#"$CONFIG_FILE"}  # configs/x.py:K=100 -> file, ":K=100"
python3 -m pip wheel -q --no-deps -w "$ROOT/dist" "$ROOT" && rm -rf "$ROOT/build"
WHEEL=$(ls -t "$ROOT"/dist/jaxdiv-*.whl | head -1)
gcloud compute tpus tpu-vm scp "$WHEEL" "$CONFIG_FILE" "$ROOT/scripts/install_apt.sh" "$TPU":~/ \
  --project "$PROJECT" --zone "$ZONE" --worker=all
on_all "sudo apt-get -qq update && sudo apt-get -qq install -y python3-venv >/dev/null && sudo bash ~/install_apt.sh && \
  python3 -m venv ~/jaxdiv && ~/jaxdiv/bin/pip install -q -U pip && \
  ~/jaxdiv/bin/pip install -q ~/$(basename "$WHEEL")'[tpu]'"
on_all "~/jaxdiv/bin/jaxdiv sweep --config ~/$(basename "$CONFIG_FILE")$CONFIG_ARG --workdir $WORKDIR --distributed \
  --config.data.data_dir=$DATA $*"
echo "results: $WORKDIR/results.jsonl, report: $WORKDIR/report/report.md"
