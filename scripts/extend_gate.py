"""Retrain more K's of a finished study at 2x steps (stage "gate", the seeds named), to see where the
longer-trained curve's optimum lies when the gate fails (one run per device at a time). Its rows join the
study's table; `jaxdiv fit` / `report` use them.

  .venv/bin/python scripts/extend_gate.py --workdir docs/studies/study_cpu_v2 --total 4096 --ks 64 256 --seeds 0

(How docs/studies/study_cpu_v2's N = 4096 gate got K = 64 and 256 beside the gate's own 8, 128 and 512.)
"""

import argparse
import logging

from jaxdiv.data.sampler import RunSpec
from jaxdiv.runtime import enable_compilation_cache
from jaxdiv.study import GATE_STEPS_SCALE
from jaxdiv.sweep.runner import run_sweep
from jaxdiv.timing import Phases
from jaxdiv.train.config import load_workdir_config


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--workdir", required=True)
  parser.add_argument("--total", type=int, required=True, help="the budget N")
  parser.add_argument("--ks", type=int, nargs="+", required=True, help="K's to retrain (each must divide N)")
  parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="every K is retrained for each seed")
  args = parser.parse_args()
  logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
  bad = [k for k in args.ks if args.total % k]
  if bad:
    parser.error(f"K = {bad} do not divide N = {args.total}")
  enable_compilation_cache()
  config = load_workdir_config(args.workdir)
  config.progress = False
  phases = Phases()
  specs = [RunSpec(k, args.total // k, seed) for seed in args.seeds for k in args.ks]
  run_sweep(config, args.workdir, specs, stage="gate", steps_scale=GATE_STEPS_SCALE, phases=phases)
  print("wall seconds by phase:", phases.rounded())


if __name__ == "__main__":
  main()
