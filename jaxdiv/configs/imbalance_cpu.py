"""The imbalance study on a 2-core CPU: does the best K move when classes are long-tailed?

  jaxdiv sweep --config configs/imbalance_cpu.py --plan          # its runs and time first
  jaxdiv sweep --config configs/imbalance_cpu.py --workdir runs/imbalance_cpu
  jaxdiv sweep --config configs/imbalance_cpu.py:long --workdir runs/imbalance_cpu_long

The CPU study v2's model and training (20 px glyphs, width-8 ResNet-18, batch 64, max(50 epochs, 800
steps)) at one budget, N = 1024, where v2 measured K* = 60 (95% CI 40-73) on the average task. K in {K*/4,
K*, 4·K*} = {16, 64, 256} (the divisors of 1024 nearest 15, 60 and 240), each at Zipf exponents s in {0,
0.5, 1, 1.5} (class k of the K gets a share ∝ (k + 1)^-s, N = 1024 exactly, every class >= 1 image), three
paired seeds (the same class order, initialisation and data order at every K and s). The convergence gate
retrains the three K at s = 1.5 and K = 256 at s = 0 (first seed) at 2x steps. Every run also records its
pre-training held-out error (16 unseen images per class). Ridge probes on the six embedded tasks.

`:long` trains twice as long (max(100 epochs, 1600 steps); its gate at 4x) at s = 0 and 1.5 only (18 runs
and 4 gate runs, about 45 min): the 50-epoch study's gate failed, every 2x change lowering the error by
1.3-6.9 points, most at K = 256.
"""

from jaxdiv.configs import glyphs_cpu
from jaxdiv.configs.common import parse_arg


def get_config(arg=None):
  arg = parse_arg(arg, long=False)
  config = glyphs_cpu.get_config()
  config.sweep.budgets = [1024]
  config.sweep.k_values = [16, 64, 256]
  config.sweep.imbalances = [0.0, 0.5, 1.0, 1.5]
  config.sweep.n_min = 4  # K = 256 at N = 1024: one head (256 classes) for every stack, one program
  config.sweep.cluster, config.sweep.cluster_budgets = False, []
  config.sweep.gate, config.sweep.gate_budgets = True, []
  config.sweep.fit_budgets, config.sweep.validation_budget = [], 0
  config.sweep.refine = False
  config.probe.pretrain_heldout_per_class = 16
  if arg.long:
    config.train.epochs, config.train.min_steps = 100.0, 1600
    config.sweep.imbalances = [0.0, 1.5]
  return config
