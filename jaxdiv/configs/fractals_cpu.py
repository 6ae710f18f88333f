"""The fractal pool: its pilot, the v4 study and its spread factor, on a 2-core machine.

  jaxdiv sweep --config configs/fractals_cpu.py:pilot --workdir runs/fractals_pilot
  jaxdiv sweep --config configs/fractals_cpu.py --plan --power   # the v4 study's runs, time and verdict odds
  jaxdiv sweep --config configs/fractals_cpu.py --workdir runs/fractals_cpu_v4
  jaxdiv sweep --config configs/fractals_cpu.py:edge --workdir runs/fractals_cpu_v4_edge
  jaxdiv sweep --config configs/fractals_cpu.py:spread --workdir runs/fractals_spread
  jaxdiv sweep --config configs/fractals_cpu.py:contrast,features=pixels --workdir runs/fractals_contrast_pixels

Everything as the glyph CPU study v3 (`configs/glyphs_cpu.py:v3`: 20 px, width-8 ResNet-18, batch 64, at
least 100 epochs and 800 steps per run, ridge probes on the six embedded tasks) except the pre-training
source, `data.source = "fractals"` (classes are iterated function systems; `docs/guide/datasets.md`).

- default (v4): n in {2, 4, 8, 16, 32} at N = 256, 1024 and 4096 (K up to 2,048), three paired seeds,
  refinement, the gate at N = 256 and 4096, the bound model fitted on 256 + 1024 and validated at 4096
  against the grid's best and the standard K; the k-means contrast at N = 1024. The grid reaches n = 2
  because the pilot's optimum at N = 1024 sat at its n = 4 edge (docs/studies/fractals_pilot).
- `:pilot`: N = 1024 only, n in {2, 4, 16, 64} (K = 512, 256, 64, 16), two seeds, no gate, no fit: does
  pre-training on the pool beat the random-init floor on the average task, and where is the optimum? (n = 2
  was added after the fractal pool's first pilot put its optimum at n = 4; a resumed pilot trains only it.)
- `:edge`: v4 at N = 4096 with n = 64 (K = 64) beside its grid (K = 128 ... 2048), three seeds, no gate, no
  fit: is the U there bounded at the low-K end, where v4's K* interval reaches the grid's edge? Copy v4's
  N = 4096 grid rows in first (`scripts/copy_rows.py --budgets 4096`); they train alike (same head of 2,048
  classes, same seeds), so only K = 64 trains.
- `:spread`: data.spread (a multiplier on the per-sample noise of the maps) at 0.5 / 1 / 2 at N = 1024,
  n in {2, ..., 64}, as `configs/what_sets_n.py:spread` runs it on the glyph pool.
- `:contrast,features=SPACE`: the contrast case at N = 1024, three seeds: K = 16 / 64 / 256 / 512 (the
  pilot's grid) with class labels and with k-means labels of one fixed sample of 1,024 images, clustered in
  SPACE (`cluster.features`: pixels, random_init, or the workdir of a `jaxdiv pretrain` run on another
  pool). One workdir per space; the class-label runs are the same in each (copy them with
  `scripts/copy_rows.py` rather than train them again). No gate, no fit across budgets. With `classes=C`
  the sample is drawn from C classes, 1024/C images each (`cluster.sample_classes`), instead of the whole
  pool, where 1,024 images come from about 900 classes, one or two each.
"""

from jaxdiv.configs import glyphs_cpu
from jaxdiv.configs.common import parse_arg

N_GRID = [2, 4, 8, 16, 32, 64]


def get_config(arg=None):
  arg = parse_arg(arg, pilot=False, spread=False, edge=False, contrast=False, features="pixels", classes=0)
  config = glyphs_cpu.get_config("v3")
  config.data.source = "fractals"
  if arg.pilot:
    config.sweep.budgets = [1024]
    config.sweep.k_values = [512, 256, 64, 16]
    config.sweep.n_min = 2
    config.sweep.seeds = [0, 1]
    config.sweep.refine, config.sweep.gate, config.sweep.cluster = False, False, False
    config.sweep.gate_budgets, config.sweep.cluster_budgets = [], []
    config.sweep.fit_budgets, config.sweep.validation_budget = [], 0
  elif arg.contrast:
    config.sweep.budgets, config.sweep.k_values = [1024], [512, 256, 64, 16]
    config.sweep.n_min = 2
    config.sweep.seeds = config.sweep.cluster_seeds = [0, 1, 2]
    config.sweep.cluster, config.sweep.cluster_budgets = True, [1024]
    config.cluster.features, config.cluster.sample_classes = arg.features, arg.classes
    config.sweep.refine, config.sweep.gate, config.sweep.gate_budgets = False, False, []
    config.sweep.fit_budgets, config.sweep.validation_budget = [], 0
  elif arg.edge:
    config.sweep.budgets, config.sweep.k_values = [4096], [64, 128, 256, 512, 1024, 2048]
    config.sweep.n_min, config.sweep.n_max, config.sweep.k_max = 2, 64, 2048
    config.sweep.refine, config.sweep.refine_n_min = False, 0
    config.sweep.cluster, config.sweep.cluster_budgets = False, []
    config.sweep.gate, config.sweep.gate_budgets = False, []
    config.sweep.fit_budgets, config.sweep.validation_budget = [], 0
  elif arg.spread:
    config.sweep.factor, config.sweep.levels = "data.spread", [0.5, 1.0, 2.0]
    config.sweep.budgets = [1024]
    config.sweep.k_values = [1024 // n for n in N_GRID]
    config.sweep.k_min, config.sweep.k_max, config.sweep.n_min, config.sweep.n_max = 1, 4096, 2, 64
    config.sweep.refine, config.sweep.refine_n_min = False, 0
    config.sweep.cluster, config.sweep.cluster_budgets = False, []
    config.sweep.gate, config.sweep.gate_budgets = True, []
    config.sweep.fit_budgets, config.sweep.validation_budget = [], 0
  else:
    config.sweep.n_min, config.sweep.points, config.sweep.k_max = 2, 5, 2048
  return config
