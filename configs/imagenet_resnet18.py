"""ResNet-18 (ImageNet stem, 224 px) on K×n subsets of ImageNet-1k from TFDS, streamed with Grain.

ImageNet cannot be downloaded automatically. Once, on a machine with TensorFlow installed:
  1. Download ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar from https://image-net.org
     into ~/tensorflow_datasets/downloads/manual/
  2. tfds build imagenet2012 --file_format=array_record --data_dir=$JAXDIV_DATA_DIR
Then, on any host (TPU VMs read the prepared array_record files from a shared disk or a GCS bucket):
  jaxdiv pretrain --config configs/imagenet_resnet18.py:K=100,n=500 --workdir gs://bucket/runs/k100
  (on a pod: the same command on every worker, with --distributed)

Recipe (the standard ResNet-18 one, scaled to N): SGD + Nesterov 0.9, peak LR 0.1·B/256, 5% linear
warm-up, cosine to zero, weight decay 1e-4 (5e-4 below N = 50K, where it overfits otherwise), label
smoothing 0.1, flips and ±16 px shifts on 224 px centre-resized images. The budget is 90 epochs at the
full 1.28M images and grows as N shrinks (at least 30K steps of 256 for N <= 100K), so small subsets
are not under-trained; override with --config.train.steps.

As a study (`jaxdiv sweep --config configs/imagenet_resnet18.py --workdir gs://.../study`): the
anti-diagonal at N = 5K, fit, predict and validate at N = 50K (rerun with
--config.sweep.validation_budget=100000 into the same workdir for 100K: finished runs are kept), with
ridge probes on six standard transfer sets prepared as array_record: cifar10, cifar100, caltech101,
dtd, oxford_flowers102, oxford_iiit_pet.
"""

from jaxdiv.train.config import base_config


def get_config(arg=None):
  args = dict(item.partition("=")[::2] for item in filter(None, (arg or "").split(",")))
  config = base_config()
  config.data.source = "imagenet2012"
  config.data.resolution = 224
  config.data.num_classes = int(args.get("K", 1000))
  config.data.per_class = int(args.get("n", 100))
  config.data.pipeline = "stream"
  config.data.max_shift = 16
  config.data.flip = True
  config.data.prefetch_threads = 16
  config.model.stem = "imagenet"
  config.model.width = int(args.get("width", 64))
  config.model.dtype = args.get("dtype", "bfloat16")
  config.train.batch_size = int(args.get("batch", 1024))
  config.train.learning_rate = 0.1 * config.train.batch_size / 256
  config.train.label_smoothing = 0.1
  num_examples = config.data.num_classes * config.data.per_class
  config.train.weight_decay = 1e-4 if num_examples >= 50_000 else 5e-4
  images_seen = max(90 * 1_281_167 * min(1.0, num_examples / 1_281_167) ** 0.5, 30_000 * 256)
  config.train.steps = int(images_seen // config.train.batch_size)
  config.sweep.budgets = [5000]
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
