"""The demo study on the embedded data (also `configs/demo.py`): small enough for a 2-core laptop.

Full: glyph pool at 20 px, a width-8 ResNet-18 (64-d features), anti-diagonals at N = 500 and 2000 (two
budgets, so the N-invariance of K/n is tested, not assumed) with five K in [2, 250], steps per run =
max(ceil(8·N/64), 500), the convergence gate at both budgets (smallest, best and largest K at 2x steps),
the k-means contrast runs at N = 500, the chance and random-init floors, fit, predict K* at N2 = 8000, and
train K*, K*/3, 3·K* and the standard K = 1000 there; ridge probes on all six tasks (2000 train / 1000
test images each). The runs are tiny, so one stack per budget holds them (`max_runs_per_chunk`) and no
memory estimate is compiled.
Quick (`--quick`, for tests): a width-4 net at 16 px on a slice of the pool, two tasks, tens of steps,
no gate.
"""

from jaxdiv.train.config import base_config


def demo_config(quick: bool = False):
  config = base_config()
  config.data.source = "glyphs"
  config.data.resolution = 20
  config.data.max_shift = 2
  config.model.stem, config.model.width = "small", 8
  config.train.batch_size = 64
  config.train.learning_rate = 0.1
  config.train.epochs = 8.0
  config.train.min_steps = 500
  config.train.weight_decay = 5e-4
  config.sweep.budgets = [500, 2000]
  config.sweep.points = 5
  config.sweep.k_min, config.sweep.k_max, config.sweep.n_min = 2, 250, 2
  config.sweep.cluster, config.sweep.cluster_budgets = True, [500]
  config.sweep.standard_classes = 1000
  config.sweep.validation_budget = 8000
  config.sweep.replicates = 20
  config.multi.max_runs_per_chunk = 8
  config.checkpoint_every, config.log_every = 100, 25
  if quick:
    config.data.glyph_range = "4E00-4FFF"
    config.data.resolution = 16
    config.model.width = 4
    config.train.batch_size = 32
    config.train.epochs = 0.0
    config.train.min_steps = 0
    config.train.steps = 24
    config.sweep.budgets = [256]
    config.sweep.cluster, config.sweep.cluster_budgets, config.sweep.gate = False, [], False
    config.sweep.points = 4
    config.sweep.k_min, config.sweep.k_max = 4, 64
    config.sweep.standard_classes = 64
    config.sweep.validation_budget = 1024
    config.sweep.replicates = 5
    config.probe.tasks = ["jaxdiv_digits", "jaxdiv_greek_cyrillic"]
    config.probe.max_train, config.probe.max_test = 500, 300
    config.checkpoint_every, config.log_every = 12, 6
  return config
