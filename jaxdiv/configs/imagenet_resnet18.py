"""ResNet-18 (ImageNet stem, 224 px) on K×n subsets of ImageNet-1k from TFDS, streamed with Grain.

ImageNet cannot be downloaded automatically. Once, on a machine with TensorFlow installed:
  1. Download ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar from https://image-net.org
     into ~/tensorflow_datasets/downloads/manual/
  2. tfds build imagenet2012 --file_format=array_record --data_dir=DATA
  3. the six transfer sets into the same DATA: docs/guide/datasets.md lists the commands, splits and keys.
Then, on any host (TPU VMs read the prepared array_record files from a shared disk or a GCS bucket,
with `pip install 'jaxdiv[cloud]'` for gs://):
  jaxdiv pretrain --config configs/imagenet_resnet18.py:K=100,n=500 --config.data.data_dir=DATA \
    --workdir gs://bucket/runs/k100
  (on a pod: the same command on every worker, with --distributed; launch/tpu_pod.sh does that)

Recipe (the standard ResNet-18 one, with a step budget per run from its own N): SGD + Nesterov 0.9,
peak LR 0.1·B/256, 5% linear warm-up, cosine to zero, weight decay 5e-4 (the small-data value: every run
of the study has N <= 100K), label smoothing 0.1, random-resized crops (8-100% of the area, aspect 3/4-4/3)
to 224 px and flips, decoded and cropped in Grain worker processes (`workers=`, default: all cores but 2;
bench/jpeg_pipeline.py measures what they feed). Probes see centre crops.
Steps per run = max(ceil(90·N/B), 2000): 90 epochs where that is enough, and at least 2,000 steps of
1,024 images (2M images, ~400 epochs at N = 5K) so a small subset still learns its task. Every K at one
N gets the same steps; N = 50K gets 4,395 and N = 100K 8,790. `jaxdiv sweep --config
configs/imagenet_resnet18.py --plan` lists every run with its steps. Override with --config.train.epochs,
--config.train.min_steps, or a fixed --config.train.steps.

As a study (`jaxdiv sweep --config configs/imagenet_resnet18.py --workdir gs://.../study`): the
anti-diagonals at N = 5K and 20K (two budgets, so the N-invariance of K/n is tested rather than
assumed), the convergence gate (smallest, best and largest K at 2x steps), fit, predict and validate at
N = 50K (rerun with
--config.sweep.validation_budget=100000 into the same workdir for 100K: finished runs are kept), with
ridge probes on six standard transfer sets prepared as array_record in data.data_dir: cifar10,
cifar100, caltech101, dtd, oxford_flowers102, oxford_iiit_pet (each has train and test splits and a
`label` ClassLabel; docs/guide/datasets.md).
"""

import os

from jaxdiv.configs.common import parse_arg
from jaxdiv.train.config import base_config


def get_config(arg=None):
  args = parse_arg(arg, K=1000, n=100, width=64, dtype="bfloat16", batch=1024, min_steps=2000, data_dir="",
                   workers=max(1, (os.cpu_count() or 4) - 2))
  config = base_config()
  config.data.source = "imagenet2012"
  config.data.resolution = 224
  config.data.num_classes = args.K
  config.data.per_class = args.n
  config.data.data_dir = args.data_dir
  config.data.pipeline = "stream"
  config.data.crop = "random_resized"
  config.data.max_shift = 0
  config.data.flip = True
  config.data.decode_workers = args.workers
  config.model.stem = "imagenet"
  config.model.width = args.width
  config.model.dtype = args.dtype
  config.train.batch_size = args.batch
  config.train.learning_rate = 0.1 * config.train.batch_size / 256
  config.train.label_smoothing = 0.1
  config.train.weight_decay = 5e-4
  config.train.epochs = 90.0
  config.train.min_steps = args.min_steps
  config.train.steps = 0
  config.sweep.budgets = [5000, 20000]
  config.sweep.points = 6
  config.sweep.k_min, config.sweep.k_max, config.sweep.n_min = 5, 1000, 5
  config.sweep.standard_classes = 1000
  config.sweep.validation_budget = 50_000
  config.probe.tasks = ["cifar10", "cifar100", "caltech101", "dtd", "oxford_flowers102", "oxford_iiit_pet"]
  config.probe.max_train, config.probe.max_test = 10_000, 5_000
  config.probe.batch_size = 256
  config.checkpoint_every = 1000
  config.log_every = 100
  return config
