"""The demo study (`jaxdiv demo`): a whole study on a 2-core laptop (`--plan` estimates its time on your machine).

  jaxdiv sweep --config configs/demo.py --workdir runs/demo         # what `jaxdiv demo` runs
  jaxdiv sweep --config configs/demo.py:quick --workdir /tmp/quick  # the test-size study

Full: glyph pool at 20 px, a width-8 ResNet-18 (64-d features), batch 64. Anti-diagonals at N = 128 and
512 (4x apart, so the N-invariance of K/n is tested, not assumed) with K every power of 2 from 4 to 64 and
n >= 4: K = 4 ... 32 at N = 128, so the pool's optimum (n* ~ 15, K* ~ 8-16) lies inside the fit budget's
grid, and K = 4 ... 64 at N = 512. Two seeds (the gate's tolerance and every interval need a seed SD).
Steps per run = max(ceil(60·N/64), 300): at least 60 epochs (150 at N = 128), the same for every K at
one N. The convergence gate at both budgets (smallest, best and largest K at 2x steps), the chance and
random-init floors. No k-means contrast (`configs/glyphs_cpu.py` runs it). The paper's protocol for the
prediction: the bound model is fitted on N = 128 only (one budget: its alpha = beta family, which holds K/n
fixed as N grows), predicts K* at N = 512, and K* is trained there (unless the grid holds it) to be
compared with the grid's best K and the standard K (sweep.standard_classes = 64, the largest K of the grid
at N = 512, n = 8). Ridge probes on all six tasks (1000 train / 500 test images each). On a CPU the runs
train in waves of one run per core through one compiled program per budget.
Quick (`:quick`, `jaxdiv demo --quick`, for tests): a width-4 net at 16 px on a slice of the pool, two
tasks, tens of steps, no gate.
"""

from jaxdiv.configs.common import parse_arg
from jaxdiv.train.config import base_config


def get_config(arg=None):
  quick = parse_arg(arg, quick=False).quick
  config = base_config()
  config.data.source = "glyphs"
  config.data.resolution = 20
  config.data.max_shift = 2
  config.model.stem, config.model.width = "small", 8
  config.train.batch_size = 64
  config.train.learning_rate = 0.1
  config.train.epochs = 60.0
  config.train.min_steps = 300
  config.train.weight_decay = 5e-4
  config.sweep.budgets = [128, 512]
  config.sweep.points = 6
  config.sweep.k_min, config.sweep.k_max, config.sweep.n_min = 4, 64, 4
  config.sweep.seeds = [0, 1]
  config.sweep.cluster, config.sweep.cluster_budgets, config.sweep.cluster_seeds = False, [], [0]
  config.sweep.standard_classes = 64
  config.sweep.fit_budgets = [128]
  config.sweep.validation_budget = 512
  config.sweep.replicates = 20
  config.probe.max_train, config.probe.max_test = 1000, 500
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
    config.sweep.seeds = [0]
    config.sweep.fit_budgets = []
    config.sweep.cluster, config.sweep.cluster_budgets, config.sweep.gate = False, [], False
    config.sweep.points = 4
    config.sweep.k_min, config.sweep.k_max, config.sweep.n_min = 4, 64, 2
    config.sweep.standard_classes = 64
    config.sweep.validation_budget = 1024
    config.sweep.replicates = 5
    config.probe.tasks = ["jaxdiv_digits", "jaxdiv_greek_cyrillic"]
    config.probe.max_train, config.probe.max_test = 500, 300
    config.checkpoint_every, config.log_every = 12, 6
  return config
