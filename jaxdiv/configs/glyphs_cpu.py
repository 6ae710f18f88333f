"""The one-hour CPU study (issue 13): three budgets 4x apart, three seeds, on a 2-core machine.

  jaxdiv sweep --config configs/glyphs_cpu.py --workdir runs/glyphs_cpu

Glyph pool at 20 px, a width-8 ResNet-18 (64-d features), batch 64. Anti-diagonals at N = 256, 512 and
1024 with K every power of 2 from 2 up to N/8 (n >= 8), so the largest K at each budget is the study's
"standard" choice (as many classes as n >= 8 allows). Steps per run = max(ceil(100·N/64), 800): at least
100 epochs and 800 steps, the same for every K at one N. Three seeds; the k-means contrast at the middle
budget; the convergence gate at the smallest and largest budgets. The paper's protocol for the
prediction: fit the bound model on N = 256 and 512 only, predict K* at N = 1024 and train it there
(every seed), to be compared with the grid's best and the standard K at that N. Ridge probes on all six
embedded tasks (2000 train / 2000 test images each, fewer where a task has fewer).
"""

from jaxdiv.configs import demo


def get_config(arg=None):
  config = demo.get_config()
  config.train.epochs = 100.0
  config.train.min_steps = 800
  config.sweep.budgets = [256, 512, 1024]
  config.sweep.points = 7
  config.sweep.k_min, config.sweep.k_max, config.sweep.n_min = 2, 1024, 8
  config.sweep.seeds = [0, 1, 2]
  config.sweep.cluster_seeds = []  # every seed
  config.sweep.cluster, config.sweep.cluster_budgets = True, [512]
  config.sweep.gate, config.sweep.gate_budgets = True, [256, 1024]
  config.sweep.standard_classes = 128
  config.sweep.fit_budgets = [256, 512]
  config.sweep.validation_budget = 1024
  config.sweep.replicates = 200
  config.probe.max_train, config.probe.max_test = 2000, 2000
  return config
