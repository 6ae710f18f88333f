"""The thorough embedded study: three budgets, three seeds, full-width ResNet-18 at 32 px.

  jaxdiv sweep --config configs/glyphs_full.py --workdir runs/glyphs_full

Anti-diagonals at N = 2000, 8000 and 32000 (seven K each), three seeds, steps per run =
max(ceil(30·N/128), 500), the k-means contrast runs at N = 8000, the convergence gate at every budget,
fit on all three budgets (so the invariance of K/n is tested, not assumed),
predict and validate at N = 128000 against the standard K = 1000. Hours on CPU; minutes on a GPU
or a TPU slice, where stacks of runs are vmapped.
"""

from jaxdiv.configs import demo


def get_config(arg=None):
  config = demo.get_config()
  config.data.resolution = 32
  config.model.width = 64
  config.train.batch_size = 128
  config.train.learning_rate = 0.1
  config.train.epochs = 30.0
  config.train.min_steps = 500
  config.sweep.budgets = [2000, 8000, 32000]
  config.sweep.points = 7
  config.sweep.k_min, config.sweep.k_max, config.sweep.n_min = 2, 1000, 2
  config.sweep.standard_classes = 1000
  config.sweep.seeds = [0, 1, 2]
  config.sweep.cluster_seeds = []  # every seed
  config.sweep.cluster, config.sweep.cluster_budgets = True, [8000]
  config.sweep.fit_budgets = []
  config.sweep.validation_budget = 128000
  config.sweep.replicates = 200
  config.probe.max_train, config.probe.max_test = 5000, 2000
  config.multi.max_runs_per_chunk = 8
  config.checkpoint_every = 500
  return config
