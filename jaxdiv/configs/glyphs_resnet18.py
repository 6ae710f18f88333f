"""Pre-train ResNet-18 (small stem) on a K×n subset of the embedded glyph pool, at 32 px.

  jaxdiv pretrain --config configs/glyphs_resnet18.py --workdir runs/glyphs
  jaxdiv pretrain --config configs/glyphs_resnet18.py:K=400,n=25,width=16 --workdir runs/g400
  jaxdiv pretrain --config configs/glyphs_resnet18.py:runlocal --workdir /tmp/smoke   # a one-minute smoke run

Recipe: SGD + Nesterov 0.9, peak LR 0.1·B/256 after a 5% linear warm-up, cosine to zero, weight decay
5e-4 on kernels only, ±2 px shifts, 30 epochs of N. Override anything: --config.train.epochs=10.
"""

from jaxdiv.configs.common import parse_arg
from jaxdiv.train.config import base_config


def get_config(arg=None):
  args = parse_arg(arg, K=100, n=50, width=64, runlocal=False)
  config = base_config()
  config.data.source = "glyphs"
  config.data.resolution = 32
  config.data.num_classes = args.K
  config.data.per_class = args.n
  config.model.stem = "small"
  config.model.width = args.width
  config.train.batch_size = 128
  config.train.learning_rate = 0.1 * config.train.batch_size / 256
  config.train.epochs = 30.0
  if args.runlocal:
    config.data.num_classes, config.data.per_class = 20, 20
    config.model.width = 8
    config.train.batch_size = 32
    config.train.epochs = 2.0
    config.checkpoint_every, config.log_every = 10, 5
  return config
