"""What sets the optimal n? The CPU study v3's model crossed with one factor at N = 1024.

  jaxdiv sweep --config configs/what_sets_n.py:designs --plan        # its runs and time first
  jaxdiv sweep --config configs/what_sets_n.py:designs --workdir runs/what_sets_n_designs
  jaxdiv sweep --config configs/what_sets_n.py:spread --workdir runs/what_sets_n_spread
  jaxdiv sweep --config configs/what_sets_n.py:width --workdir runs/what_sets_n_width

`configs/glyphs_cpu.py:v3` (20 px glyphs, width-8 ResNet-18, batch 64, max(100 epochs, 800 steps) = 1,600
steps at N = 1024, ridge probes on six tasks) at N = 1024 only, with n in {2, 4, 8, 16, 32, 64} (K = 512 ...
16), three seeds paired across K and levels, and the convergence gate (every K at the last level listed, the
best K at the base level, at 2x steps). No refinement, no k-means contrast, no bound-model prediction: the
question is where n* sits at each level.

- `:designs`: data.designs_per_class D in {1, 4, all} (each class's first D designs of its own seeded order;
  all = 16-33, median 19).
- `:spread`: data.spread in {0.5, 1, 2} (every warp range times the level); `spread0` adds the plain design.
- `:width`: model.width in {4, 8, 16} (32-, 64- and 128-d features; width 16 trains ~3x slower per image than
  8). Three levels 4x apart: with two (8, 16) the slope's 95% interval is ~1.3 wide in simulation
  (bench/factor_verdicts.py), too wide to say anything; with three, ~0.65, as for the spread.
- `N=4096` (with any of the above): the same n-grid at N = 4096 (K = 2048 ... 64), for a level that moved n*;
  `levels=1/2` picks levels, `n_min=4` drops n = 2 (K = 2048: a sixth of the grid, far from n* at either level):
    jaxdiv sweep --config configs/what_sets_n.py:spread,N=4096,levels=1/2,n_min=4 --workdir runs/spread_4096
  Spread 1 at N = 4096 with n >= 4 is the CPU study v3's grid (K = 1024 ... 64, its refinement included;
  sweep.n_min stays 2, so every run has v3's 2,048-class head and the same initialisation).
"""

from jaxdiv.configs import glyphs_cpu
from jaxdiv.configs.common import parse_arg

FACTORS = {"designs": ("data.designs_per_class", [1, 4, 0]), "spread": ("data.spread", [0.5, 1.0, 2.0]),
           "width": ("model.width", [4, 8, 16])}
N_GRID = [2, 4, 8, 16, 32, 64]


def get_config(arg=None):
  arg = parse_arg(arg, designs=False, spread=False, width=False, spread0=False, N=1024, levels="", n_min=2)
  chosen = [name for name in FACTORS if arg[name]]
  if len(chosen) != 1:
    raise ValueError(f"name one factor: configs/what_sets_n.py:designs, :spread or :width (got {chosen or 'none'})")
  config = glyphs_cpu.get_config("v3")
  name, levels = FACTORS[chosen[0]]
  if arg.spread0 and chosen[0] == "spread":
    levels = [0.0, *levels]
  if arg.levels:  # e.g. levels=0.5/2: one factor's extreme levels, for a larger N
    levels = [type(levels[0])(v) for v in arg.levels.split("/")]
  config.sweep.factor, config.sweep.levels = name, levels
  config.sweep.budgets = [arg.N]
  config.sweep.k_values = [arg.N // n for n in N_GRID if n >= arg.n_min]
  config.sweep.k_min, config.sweep.k_max, config.sweep.n_min, config.sweep.n_max = 1, 4096, 2, 64
  config.sweep.refine, config.sweep.refine_n_min = False, 0
  config.sweep.cluster, config.sweep.cluster_budgets = False, []
  config.sweep.gate, config.sweep.gate_budgets = True, []
  config.sweep.fit_budgets, config.sweep.validation_budget = [], 0
  return config
