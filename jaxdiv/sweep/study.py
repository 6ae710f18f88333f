"""The whole study as one call: sweep at N1, fit the bound model, predict K* for N2, validate, report."""

from __future__ import annotations

import logging
import os
import platform
import time

import jax

from jaxdiv.bound.analysis import predict_split
from jaxdiv.bound.study import AVERAGE, fit_study
from jaxdiv.data.fonts import write_json_atomic
from jaxdiv.report import write_report
from jaxdiv.sweep import grid
from jaxdiv.sweep.runner import load_tasks, run_sweep
from jaxdiv.train.multi import RunSpec

log = logging.getLogger("jaxdiv")


def validation_specs(config, prediction: dict, fit: dict, max_classes: int) -> list[RunSpec]:
  """At N2: the predicted K*, the standard K (all classes), and grid neighbours K*/s, K*·s (s = spread).

  With a boundary optimum there is no K*; the neighbours are then placed around the sweep's grid-best K
  moved to N2 at a constant K/n, and the report says no prediction was made.
  """
  total = config.sweep.validation_budget
  standard = min(config.sweep.standard_classes, max_classes)
  if prediction["status"] == "ok":
    centre = prediction["K_star"]
  else:
    best = fit["measured"][-1]
    centre = best["grid_best_K"] * (total / best["N"]) ** 0.5
  spread = config.sweep.validation_spread
  k_hi = min(max_classes, total // config.sweep.n_min)
  ks = {grid.nearest_divisor(total, min(max(k, 1), k_hi), 1, k_hi) for k in (centre, centre / spread, centre * spread)}
  ks.add(grid.nearest_divisor(total, standard, 1, k_hi))
  return [RunSpec(k, total // k, seed) for seed in config.sweep.seeds for k in sorted(ks)]


def run_study(config, workdir: str, description: str = "") -> dict:
  """Everything `jaxdiv demo` / `jaxdiv sweep` do; every stage resumes from what `workdir` already holds."""
  start = time.perf_counter()
  os.makedirs(workdir, exist_ok=True)
  tasks = load_tasks(config)
  run_sweep(config, workdir, stage="sweep", tasks=tasks)
  log.info("fitting the bound model")
  fits = fit_study(workdir, probe=config.probe.kinds[0], replicates=config.sweep.replicates)
  budget = f"{config.train.steps} steps" if config.train.steps else f"{config.train.epochs:g} epochs of N"
  meta = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                     f"{jax.default_backend()} ({jax.devices()[0].device_kind})",
          "model": f"ResNet-18 topology, {config.model.stem} stem, width {config.model.width} "
                   f"({8 * config.model.width}-d features), {config.data.resolution} px, {budget}, "
                   f"batch {config.train.batch_size}",
          "sweep_N": list(config.sweep.budgets), "standard_classes": config.sweep.standard_classes,
          "note": description}
  total = config.sweep.validation_budget
  if total:
    from jaxdiv.train.pretrain import build_source
    max_classes = build_source(config).num_classes
    prediction = predict_split(dict(fits[AVERAGE], _boot=fits[AVERAGE]["bootstrap_params"]), total, max_classes)
    if prediction["status"] == "ok":
      k = grid.nearest_divisor(total, prediction["K_star"], 1, max_classes)
      low, high = prediction["K_ci95"]
      prediction.update(K=k, n=total // k, message=f"K* = {prediction['K_star']:.0f} (95% CI {low:.0f}–{high:.0f}) "
                        f"at N = {total}; trained K = {k}, n = {total // k}")
    meta.update(validation_N=total, prediction=prediction)
    run_sweep(config, workdir, validation_specs(config, prediction, fits[AVERAGE], max_classes), stage="validate",
              tasks=tasks)
  meta["wall_seconds"] = round(time.perf_counter() - start, 1)
  write_json_atomic(os.path.join(workdir, "study.json"), meta)
  report = write_report(workdir, probe=config.probe.kinds[0])
  return {"report": report, "seconds": meta["wall_seconds"], "prediction": meta.get("prediction")}
