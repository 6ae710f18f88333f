#!/bin/bash
# Run a jaxdiv study on a Cloud TPU pod slice: create the TPU VM, install jaxdiv on every worker, and run
# the same command on all workers; `--distributed` makes each call jax.distributed.initialize() first,
# so the runs/data mesh spans every chip and each host feeds its own shard of every batch.
#
#   PROJECT=my-project ZONE=us-central2-b TPU=jaxdiv-v4-32 TYPE=v4-32 \
#   DATA=gs://my-bucket/tensorflow_datasets WORKDIR=gs://my-bucket/runs/imagenet \
#   bash launch/tpu_pod.sh configs/imagenet_resnet18.py
#
# DATA must hold imagenet2012 prepared as array_record (see configs/imagenet_resnet18.py). WORKDIR on
# GCS keeps checkpoints and the results table across preemptions: rerun this script to resume.
set -euo pipefail
CONFIG=${1:?usage: launch/tpu_pod.sh CONFIG [--config.FIELD=VALUE ...]}; shift || true
: "${PROJECT:?}" "${ZONE:?}" "${TPU:?}" "${TYPE:?}" "${DATA:?}" "${WORKDIR:?}"
VERSION=${VERSION:-tpu-ubuntu2204-base}
REPO=${REPO:-git+https://github.com/jaxdiv/jaxdiv.git}

if ! gcloud compute tpus tpu-vm describe "$TPU" --project "$PROJECT" --zone "$ZONE" >/dev/null 2>&1; then
  gcloud compute tpus tpu-vm create "$TPU" --project "$PROJECT" --zone "$ZONE" --accelerator-type "$TYPE" \
    --version "$VERSION" ${SPOT:+--spot}
fi
on_all() {
  gcloud compute tpus tpu-vm ssh "$TPU" --project "$PROJECT" --zone "$ZONE" --worker=all --command "$1"
}
on_all "sudo apt-get -qq update && sudo apt-get -qq install -y fonts-noto-cjk python3-venv >/dev/null; \
  python3 -m venv ~/jaxdiv && ~/jaxdiv/bin/pip install -q -U pip && ~/jaxdiv/bin/pip install -q '${REPO}#egg=jaxdiv[tpu]'"
# The config file travels with the command so every worker runs the same study.
CONFIG_TEXT=$(base64 -w0 "$CONFIG")
on_all "echo $CONFIG_TEXT | base64 -d > ~/study_config.py && JAXDIV_DATA_DIR=$DATA \
  ~/jaxdiv/bin/jaxdiv sweep --config ~/study_config.py --workdir $WORKDIR --distributed $*"
echo "results: $WORKDIR/results.jsonl, report: $WORKDIR/report/report.md"
