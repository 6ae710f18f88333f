"""The imbalance study (issue 22): does the best K move when the K classes are long-tailed, and does error
follow the effective class count K_eff = exp(entropy) the way balanced runs follow K?

A config with `sweep.imbalances` beyond [0] makes `jaxdiv sweep` run this instead of the K*-invariance
study: at each budget, the K's of `sweep.k_values` (or the anti-diagonal) at every imbalance s and seed
(same N = K·n, class k's share ∝ (k + 1)^-s), the convergence gate at the largest s, then
`jaxdiv.report.imbalance` writes the tables and figures. Every stage resumes from the workdir.
"""

from __future__ import annotations

import logging
import os
import time

from jaxdiv import distributed, io
from jaxdiv.probe.runs import load_tasks
from jaxdiv.runtime import enable_compilation_cache
from jaxdiv.study import GATE_STEPS_SCALE, machine_meta
from jaxdiv.sweep import grid
from jaxdiv.sweep.runner import per_class_capacity, run_baselines, run_sweep
from jaxdiv.timing import Phases
from jaxdiv.train.multi import RunSpec
from jaxdiv.train.pretrain import build_source
from jaxdiv.train.state import total_steps

log = logging.getLogger("jaxdiv")


def is_imbalance_study(config) -> bool:
  return any(float(s) for s in (config.sweep.get("imbalances") or []))


def gate_specs(config, max_classes: int, max_per_class: int) -> list[RunSpec]:
  """Retrained at 2x steps, first seed: every K of the grid at the largest imbalance (the most skewed runs,
  whose rare classes might not have trained), and at each budget the largest K at the smallest imbalance
  (the most classes with the fewest images each: the balanced run slowest to fit its training set)."""
  levels = sorted(float(s) for s in config.sweep.imbalances)
  design = [s for s in grid.design(config.sweep, max_classes, max_per_class)
            if s.seed == config.sweep.seeds[0] and s.mode == "class"]
  specs = [s for s in design if s.imbalance == levels[-1]]
  for total in sorted({s.num_classes * s.per_class for s in design}):
    at = [s for s in design if s.imbalance == levels[0] and s.num_classes * s.per_class == total]
    if at and levels[0] != levels[-1]:
      specs.append(max(at, key=lambda s: s.num_classes))
  return specs


def plan_imbalance(config) -> list[dict]:
  """Every run the imbalance study trains (stage, N, K, n, imbalance, seed, steps, images), without data."""
  sweep, train = config.sweep, config.train

  def entry(stage, spec, scale=1.0):
    total = spec.num_classes * spec.per_class
    steps = total_steps(train, total, scale)
    return {"stage": stage, "mode": spec.mode, "N": total, "K": spec.num_classes, "n": spec.per_class,
            "imbalance": spec.imbalance, "seed": spec.seed, "steps": steps, "images": steps * train.batch_size}
  plan = [entry("sweep", s) for s in grid.design(sweep, sweep.k_max, sweep.n_max)]
  if sweep.gate:
    plan += [entry("gate", s, GATE_STEPS_SCALE) for s in gate_specs(config, sweep.k_max, sweep.n_max)]
  return plan


def run_imbalance_study(config, workdir: str, description: str = "") -> dict:
  """Floors, the grid at every imbalance, the gate at the largest, the report; resumes from `workdir`."""
  start, phases = time.perf_counter(), Phases()
  enable_compilation_cache()
  io.makedirs(workdir)
  with phases.measure("data"):
    source = build_source(config)
    tasks = load_tasks(config, source.image_shape[-1])
  if config.sweep.baselines:
    with phases.measure("probe"):
      run_baselines(config, workdir, tasks, source)
  run_sweep(config, workdir, stage="sweep", tasks=tasks, phases=phases, source=source)
  if config.sweep.gate:
    run_sweep(config, workdir, gate_specs(config, source.num_classes, per_class_capacity(source)), stage="gate",
              tasks=tasks, steps_scale=GATE_STEPS_SCALE, phases=phases, source=source)
  meta = {**machine_meta(), "note": description, "imbalances": [float(s) for s in config.sweep.imbalances],
          "k_values": list(config.sweep.k_values), "budgets": list(config.sweep.budgets)}
  report = os.path.join(workdir, "report", "report.md")
  if distributed.is_writer():
    # Every call that trained is kept (a resumed study's time is the sum of its calls); one that only
    # rewrote the report leaves the record as it was.
    calls = (io.read_json_if_exists(os.path.join(workdir, "study.json")) or {}).get("calls", [])
    if phases.seconds.get("train") or not calls:
      calls = calls + [{"wall_seconds": round(time.perf_counter() - start, 1), "phases_seconds": phases.rounded()}]
    totals: dict = {}
    for call in calls:
      for name, seconds in call["phases_seconds"].items():
        totals[name] = round(totals.get(name, 0.0) + seconds, 1)
    meta.update(calls=calls, wall_seconds=round(sum(c["wall_seconds"] for c in calls), 1), phases_seconds=totals)
    io.write_json_atomic(os.path.join(workdir, "study.json"), meta)
    from jaxdiv.report.imbalance import write_imbalance_report
    report = write_imbalance_report(workdir, probe=config.probe.kinds[0])
  distributed.barrier(f"imbalance_report:{workdir}")
  return {"report": report, "seconds": meta.get("wall_seconds", round(time.perf_counter() - start, 1))}
