"""The CPU study, v2 and v3: three budgets 16x apart, three seeds, on a 2-core machine.

  jaxdiv sweep --config configs/glyphs_cpu.py --plan --power   # its runs, time and verdict odds first
  jaxdiv sweep --config configs/glyphs_cpu.py --workdir runs/glyphs_cpu
  jaxdiv sweep --config configs/glyphs_cpu.py:v3 --workdir runs/glyphs_cpu_v3

Glyph pool at 20 px, a width-8 ResNet-18 (64-d features), batch 64. Anti-diagonals at N = 256, 1024 and
4096 (16x: the slope of ln K* on ln N has an expected 95% half-width of ~0.2 from the power preview with
the v1 study's noise, against ~0.4 for v1's 4x) with K every power of 2 from 8 up to N/8 (n >= 8): v1
measured K = 2 and 4 12-19 points worse than the best at every budget, so the grid starts where the optimum
can be. Steps per run = max(ceil(50·N/64), 800): at least 50 epochs and 800 steps, the same for every K at
one N. Three seeds, which share the initialisation and data-order keys across K (paired differences). The
k-means contrast at the middle budget (first seed); the convergence gate at the smallest and largest
budgets. The paper's protocol for the prediction: fit the bound model on N = 256 and 1024 only, predict K*
at N = 4096 (4x beyond the fit) and compare it there with the grid's best and the standard K (as many
classes as n >= 8 allows, capped at 128). Ridge probes on all six embedded tasks (2000 train / 2000 test
images each, fewer where a task has fewer).

`:v3` answers what v2's failed gate left open. v2 at 2x steps put the N = 4096 optimum on the grid's n = 8
edge, as N = 256's already was: the optimum lies at small n, so v3 places the grid in n, not K: n in {4, 8,
16, 32} at every N (K = N/32 ... N/4: 8-64, 32-256, 128-1024), at least 100 epochs and 800 steps per run
(2x v2 at N = 1024 and 4096; N = 256 keeps its 800 steps), the gate at 200 epochs. Refinement on: where a
budget's optimum is on the n = 4 edge, every seed adds n = 2 there (powers of 2 have no half steps).
Everything else as v2. Measured (docs/studies/study_cpu_v3): the slope 0.99 [0.68, 1.16], "drifts"; the
gate fails at N = 4096 only at K = 1024 (n = 4); refinement added n = 64 at 1024 and 4096, where the K*
CIs reached the grid's low-K end. A next run: more seeds at 4096, or N = 4608 (half steps exist).
"""

from jaxdiv.configs import demo
from jaxdiv.configs.common import parse_arg


def get_config(arg=None):
  v3 = parse_arg(arg, v3=False).v3
  config = demo.get_config()
  config.train.epochs = 50.0
  config.train.min_steps = 800
  config.sweep.budgets = [256, 1024, 4096]
  config.sweep.points = 7
  config.sweep.k_min, config.sweep.k_max, config.sweep.n_min = 8, 1024, 8
  config.sweep.seeds = [0, 1, 2]
  config.sweep.cluster_seeds = [0]
  config.sweep.cluster, config.sweep.cluster_budgets = True, [1024]
  config.sweep.gate, config.sweep.gate_budgets = True, [256, 4096]
  config.sweep.standard_classes = 128
  config.sweep.fit_budgets = [256, 1024]
  config.sweep.validation_budget = 4096
  config.sweep.replicates = 200
  config.probe.max_train, config.probe.max_test = 2000, 2000
  if v3:
    config.train.epochs = 100.0
    config.sweep.k_min, config.sweep.k_max = 1, 1024
    config.sweep.n_min, config.sweep.n_max, config.sweep.points = 4, 32, 4
    config.sweep.refine, config.sweep.refine_n_min = True, 2
  return config
