"""A study as one call. `run_study`: floors, sweep, refinement, convergence gate, fit, verdicts, validation
at N2, report. `run_factor_study`: the same grid crossed with one factor's levels, its gate and report.
`run` and `plan` pick the kind from the config.

Every stage resumes from what the workdir holds. `plan` lists every run without training.
"""

from __future__ import annotations

import logging
import os
import time

import jax
import numpy as np

from jaxdiv import distributed, factor, io, timing
from jaxdiv.bound import power
from jaxdiv.data import build_source
from jaxdiv.data.sampler import RunSpec
from jaxdiv.probe.runs import load_tasks
from jaxdiv.report import write_report
from jaxdiv.results import AVERAGE, read_rows, with_average
from jaxdiv.runtime import cpu_model, describe_cpu_devices, enable_compilation_cache
from jaxdiv.stats import measured
from jaxdiv.study.files import fit_study, held_out_prediction
from jaxdiv.sweep import grid
from jaxdiv.sweep.estimate import estimate_study, fit_report_key
from jaxdiv.sweep.runner import finished_runs, per_class_capacity, run_baselines, run_sweep
from jaxdiv.timing import Phases
from jaxdiv.train.config import validate
from jaxdiv.train.pretrain import check_workdir_config
from jaxdiv.train.state import total_steps

log = logging.getLogger("jaxdiv")
GATE_STEPS_SCALE = 2.0


def gate_budgets(sweep) -> list[int]:
  if not sweep.gate:
    return []
  return sorted(sweep.gate_budgets or sweep.budgets)


def _average_rows(config, rows) -> list:
  """The average task's rows of the study's first probe: what the gate and refinement choose K's from."""
  return [r for r in with_average(rows) if r.task == AVERAGE and r.probe == config.probe.kinds[0]]


def gate_specs(config, rows) -> list[RunSpec]:
  """At each gated budget: the smallest, the best (average task, mean over seeds) and the largest K of the
  sweep's grid, first seed, to be retrained at 2x steps."""
  seed = config.sweep.seeds[0]
  average = [r for r in _average_rows(config, rows) if r.stage == "sweep" and r.mode == "class"]
  specs = []
  for total in gate_budgets(config.sweep):
    at = [r for r in average if r.N == total]
    if not at:
      continue
    ks = sorted({r.K for r in at})
    mean = {k: np.mean([r.error for r in at if r.K == k]) for k in ks}
    for k in sorted({ks[0], min(mean, key=mean.get), ks[-1]}):
      specs.append(RunSpec(k, total // k, seed))
  return specs


REFINE_STEP = np.sqrt(2.0)


def refine_ks(total: int, grid_k, best: dict, k_hi: int, k_lo: int = 2) -> tuple[list[int], str]:
  """The K's refinement adds at N = `total` (none when the optimum is pinned down) and why.

  Triggered when the measured vertex is at the grid's edge, its 95% CI spans more than two grid steps, or
  the CI reaches an end of the grid next to the grid-best K (the bootstrap's vertices are clipped there, so
  such a CI says only that the optimum may lie beyond it). It adds half steps (×√2) on each side of the
  grid-best K and one grid step beyond the edge the vertex lies at, or else the edge the CI reaches,
  within [k_lo, k_hi] (k_hi from n >= refine_n_min: the gate then says whether such small-n runs trained).
  K must divide N (K·n = N exactly), so a target without a divisor within a quarter step is skipped and
  said."""
  grid_k = np.sort(np.asarray(grid_k, float))
  step = float(np.median(np.diff(np.log(grid_k)))) if len(grid_k) > 1 else np.log(2.0)
  low, high = best.get("K_ci95") or (None, None)
  wide = low is not None and np.log(high / low) > 2 * step + 1e-9
  centre = best["grid_best_K"]
  at = int(np.argmin(np.abs(np.log(grid_k / centre))))  # the grid-best K's place on the grid
  # A CI that ends at the grid's edge (the bootstrap's vertices are clipped there) with the grid-best K
  # within one step of that edge: the optimum may lie beyond it.
  reaches_low = low is not None and low <= grid_k[0] * (1 + 1e-6) and at <= 1
  reaches_high = high is not None and high >= grid_k[-1] * (1 - 1e-6) and at >= len(grid_k) - 2
  if not (best["at_edge"] or wide or reaches_low or reaches_high):
    return [], "K* pinned down (interior, CI within two grid steps and inside the grid)"
  targets = [centre / REFINE_STEP, centre * REFINE_STEP]
  if best["at_edge"]:
    beyond_low = centre == grid_k[0]
  else:  # both only on a grid of two or three K: the end nearer the vertex
    beyond_low = reaches_low and not (
        reaches_high and np.log(best["K_star"] / grid_k[0]) > np.log(grid_k[-1] / best["K_star"]))
  if best["at_edge"] or reaches_low or reaches_high:
    targets.append(grid_k[0] / np.exp(step) if beyond_low else grid_k[-1] * np.exp(step))
  ks, missing = set(), []
  for target in targets:
    if not k_lo <= round(target) <= k_hi:
      missing.append(f"K ~ {target:.0f} outside [{k_lo}, {k_hi}]")
      continue
    k = grid.nearest_divisor(total, target, k_lo, k_hi)
    if abs(np.log(k / target)) <= step / 4 and k not in grid_k:
      ks.add(k)
    else:
      missing.append(f"no divisor of N near K ~ {target:.1f}")
  if best["at_edge"]:
    why = "vertex at the grid's edge"
  elif wide:
    why = f"K* CI {low:.0f}-{high:.0f} spans > 2 grid steps"
  else:
    why = f"K* CI {low:.0f}-{high:.0f} reaches the grid's {'low' if beyond_low else 'high'}-K end"
  return sorted(ks), why + ("; " + ", ".join(missing) if missing else "")


def refine_specs(config, rows, max_classes: int, max_per_class: int | None = None) -> list[RunSpec]:
  """Refinement (`sweep.refine`) at every sweep budget from the average task's grid rows (stage "sweep"
  only, so a resumed study adds the same K's): `refine_ks` per budget, every seed the same K's, K within
  the source's classes and n within what its smallest class holds."""
  sweep = config.sweep
  specs = []
  for total, curve in measured.curves(_average_rows(config, rows), stage="sweep").items():
    if total not in sweep.budgets or len(curve.K) < 3:
      continue
    best = measured.best_k(curve, replicates=sweep.replicates)
    k_hi = min(max_classes, sweep.k_max, total // max(sweep.refine_n_min or sweep.n_min, 1))
    k_lo = max(2, -(-total // max_per_class)) if max_per_class else 2
    ks, why = refine_ks(total, curve.K, best, k_hi, k_lo)
    log.info("refine N=%d: %s%s", total, why, f"; adds K = {ks}" if ks else "")
    specs += [RunSpec(k, total // k, seed) for seed in sweep.seeds for k in ks]
  return specs


def standard_k(sweep, total: int, max_classes: int | None = None) -> int:
  """The standard choice at N = `total`: as many classes as the source (when known) and n >= sweep.n_min
  allow, capped at sweep.standard_classes (ImageNet's "all 1000 classes")."""
  k_hi = min(max_classes or total, total // sweep.n_min)
  return grid.nearest_divisor(total, min(sweep.standard_classes, k_hi), 1, k_hi)


def grid_ks(sweep, total: int, max_classes: int | None = None) -> set[int]:
  """The K's of the sweep's anti-diagonal at N = `total`."""
  k_max = min(sweep.k_max, max_classes or sweep.k_max)
  return {k for k, _ in grid.anti_diagonal(total, sweep.points, sweep.k_min, k_max, sweep.n_min, sweep.n_max)}


def validation_specs(config, prediction: dict, fit, max_classes: int) -> list[RunSpec]:
  """At N2: the predicted K*, the standard K, and grid neighbours K*/s, K*·s (s = spread), every seed.

  When N2 is itself a sweep budget (the paper's protocol: fit the smaller budgets, hold this one out), the
  grid already holds the neighbours, so only the predicted and standard K that the grid lacks are trained.
  With a boundary optimum there is no K*; the neighbours are then placed around the sweep's grid-best K
  moved to N2 at a constant K/n, and the report says no prediction was made.
  """
  total = config.sweep.validation_budget
  if prediction["status"] == "ok":
    centre = prediction["K_star"]
  else:
    best = fit.measured[-1]
    centre = best["grid_best_K"] * (total / best["N"]) ** 0.5
  k_hi = min(max_classes, total // config.sweep.n_min)
  standard = standard_k(config.sweep, total, max_classes)
  if total in config.sweep.budgets:
    wanted = {standard} | ({prediction["K"]} if prediction["status"] == "ok" else set())
    ks = wanted - grid_ks(config.sweep, total, max_classes)
  else:
    spread = config.sweep.validation_spread
    ks = {grid.nearest_divisor(total, min(max(k, 1), k_hi), 1, k_hi)
          for k in (centre, centre / spread, centre * spread)} | {standard}
  return [RunSpec(k, total // k, seed) for seed in config.sweep.seeds for k in sorted(ks)]


def budget_rule(train) -> str:
  if train.steps:
    return f"{train.steps} steps per run"
  return f"steps per run = max(ceil({train.epochs:g}·N/{train.batch_size}), {train.min_steps})"


def plan_study(config) -> list[dict]:
  """Every run the study will train (stage, mode, N, K, n, seed, steps, images), without touching data.

  K is capped by `sweep.k_max` only (the source's class count is not read). Gate and validation K's that
  depend on results not yet measured are null; their steps and images are known from N."""
  sweep, train = config.sweep, config.train
  batch = train.batch_size

  def entry(stage, mode, total, k, seed, scale=1.0):
    steps = total_steps(train, total, scale) if total else 0
    return {"stage": stage, "mode": mode, "N": total, "K": k, "n": (total // k) if k else None, "seed": seed,
            "steps": steps, "images": steps * batch}

  plan = []
  if sweep.baselines:
    plan.append(entry("baseline", "random_init", 0, None, config.seed))
  specs = grid.design(sweep, sweep.k_max, sweep.n_max)
  plan += [entry("sweep", s.mode, s.num_classes * s.per_class, s.num_classes, s.seed) for s in specs]
  if sweep.refine:  # at most two half steps and one step beyond an edge per budget; which, the grid decides
    plan += [entry("refine", "class", total, None, seed) for total in sweep.budgets for seed in sweep.seeds
             for _ in range(3)]
  for total in gate_budgets(sweep):
    ks = sorted({s.num_classes for s in specs if s.mode == "class" and s.num_classes * s.per_class == total})
    if ks:
      plan += [entry("gate", "class", total, k, sweep.seeds[0], GATE_STEPS_SCALE) for k in (ks[0], None, ks[-1])]
  if sweep.validation_budget:
    total = sweep.validation_budget
    standard = standard_k(sweep, total)
    ks = [None, None, None, standard]
    if total in sweep.budgets:  # held out: the grid holds the neighbours; K* is trained unless on the grid
      ks = [None] + ([] if standard in grid_ks(sweep, total) else [standard])
    for seed in sweep.seeds:
      plan += [entry("validate", "class", total, k, seed) for k in ks]
  return plan


def plan_total(plan: list[dict]) -> dict:
  """Runs, steps and images of the plan, and of what is left to train where `mark_finished` marked it."""
  total = {"runs": len(plan), "steps": sum(p["steps"] for p in plan), "images": sum(p["images"] for p in plan)}
  if any("done" in p for p in plan):
    todo = [p for p in plan if not p.get("done")]
    total["to_do"] = {"runs": len(todo), "steps": sum(p["steps"] for p in todo),
                      "images": sum(p["images"] for p in todo)}
  return total


def left_to_train(config, plan: list[dict], workdir: str | None) -> list[dict]:
  """The plan's runs `workdir` does not hold yet: what a resumed study's estimate prices (a study whose rows
  were copied in, or that was stopped, would otherwise be priced whole)."""
  return [p for p in mark_finished(config, plan, workdir) if not p.get("done")]


def mark_finished(config, plan: list[dict], workdir: str | None) -> list[dict]:
  """The plan with "done" on every entry: true where `workdir` already holds the run (every task and probe),
  so a resumed study's `--plan` prices only what is left. A gate run whose K the results decide (null K) is
  done where the workdir holds a gate run of that level, N and seed; refinement and validation runs with a
  null K count as to do."""
  if not workdir or not os.path.isfile(os.path.join(workdir, "results.jsonl")):
    return plan
  name, _ = factor.factor_of(config)
  rows, finished = read_rows(workdir), {}

  def done_at(level) -> set:
    if level not in finished:
      level_config = factor.at_level(config, name, level) if name else config
      finished[level] = finished_runs(workdir, config.probe.tasks, config.probe.kinds, factor.condition(level_config))
    return finished[level]

  out = []
  for p in plan:
    if p["stage"] == "baseline":
      done = any(r.stage == "baseline" and r.width == int(config.model.width) for r in rows)
    elif p["K"] is None:
      done = p["stage"] == "gate" and any(
          key[4] == "gate" and key[1] * key[2] == p["N"] and key[3] == p["seed"]
          and key[5] == float(p.get("imbalance", 0.0)) for key in done_at(p.get("level")))
    else:
      key = (p["mode"], p["K"], p["n"], p["seed"], p["stage"], float(p.get("imbalance", 0.0)))
      done = key in done_at(p.get("level"))
    out.append({**p, "done": done})
  return out


def study_verdict(fits: dict, gated: bool) -> dict:
  """The study's headline: under-trained (failed gate), or the gate's outcome beside the invariance test."""
  average = fits.get(AVERAGE)
  if average is None:
    return {"status": "no average task", "message": "no task has every row; nothing to conclude"}
  if not gated:
    gate = "gate not run"
  elif not average.gate:
    gate = "gate not run (no gated budget has rows)"
  else:
    failed = [g["N"] for g in average.gate if not g["passes"]]
    gate = f"failed at N = {failed}" if failed else "passed"
  if gate.startswith("failed"):
    return {"status": "under-trained", "gate": gate,
            "message": f"under-trained: 2x steps moved the average error beyond tolerance ({gate}); raise "
                       "train.epochs / train.min_steps. No prediction below is a finding."}
  return {"status": "ok" if gate == "passed" else "unchecked", "gate": gate,
          "invariance": average.slope.get("verdict"), "bound_invariance": average.invariance.get("verdict"),
          "message": f"convergence gate: {gate}; invariance of K/n (slope of ln K* on ln N): "
                     f"{average.slope.get('verdict')}"}


def machine_meta() -> dict:
  """Where a study ran, for study.json and its report's header."""
  return {"machine": f"{cpu_model()}, {os.cpu_count()} cores, {jax.default_backend()} ({jax.devices()[0].device_kind})",
          "devices": (describe_cpu_devices() if jax.default_backend() == "cpu"
                      else f"{len(jax.devices())} {jax.default_backend()} devices")}


def run_study(config, workdir: str, description: str = "") -> dict:
  """Everything `jaxdiv demo` / `jaxdiv sweep` do; every stage resumes from what `workdir` already holds.
  study.json records this call's wall seconds by phase beside the estimate made before it started."""
  validate(config)  # before anything is written: a refused config leaves no workdir behind
  start, phases = time.perf_counter(), Phases()
  compile_cache = enable_compilation_cache()
  log.info("devices: %s; compilation cache: %s", describe_cpu_devices() if jax.default_backend() == "cpu"
           else f"{len(jax.devices())} {jax.default_backend()} devices", compile_cache or "off")
  plan = plan_study(config)
  estimate = estimate_study(config, left_to_train(config, plan, workdir), measure=False)
  design = power.design_from_plan(plan)
  # Declared before the data: what this design can conclude at the default noise prior.
  preview = power.preview(design, tables=200) if len(design["K"]) >= 2 else None
  with phases.measure("data"):
    source = build_source(config)  # once: its channels for the tasks, its classes for the validation
    grid.design(config.sweep, source.num_classes, per_class_capacity(source))  # its errors before any file
    tasks = load_tasks(config, source.image_shape[-1])
  io.makedirs(workdir)
  if config.sweep.baselines:
    with phases.measure("probe"):
      run_baselines(config, workdir, tasks, source)
  rows = run_sweep(config, workdir, stage="sweep", tasks=tasks, phases=phases, source=source)
  if config.sweep.refine:
    specs = refine_specs(config, rows, source.num_classes, per_class_capacity(source))
    rows = run_sweep(config, workdir, specs, stage="refine", tasks=tasks, phases=phases, source=source)
  if config.sweep.gate:
    log.info("convergence gate: retraining the smallest, best and largest K at %gx steps", GATE_STEPS_SCALE)
    run_sweep(config, workdir, gate_specs(config, rows), stage="gate", tasks=tasks, steps_scale=GATE_STEPS_SCALE,
              phases=phases, source=source)
  log.info("fitting the bound model and the measured statistics")
  with phases.measure("fit_report"):
    fits = fit_study(workdir, probe=config.probe.kinds[0], replicates=config.sweep.replicates,
                     fit_budgets=config.sweep.fit_budgets)
  verdict = study_verdict(fits, bool(config.sweep.gate))
  log.info("%s", verdict["message"])
  meta = {**machine_meta(),
          "model": f"ResNet-18 topology, {config.model.stem} stem, width {config.model.width} "
                   f"({8 * config.model.width}-d features), {config.data.resolution} px, batch "
                   f"{config.train.batch_size}, lr {config.train.learning_rate:g}, zero-init last BN scale "
                   f"{config.model.zero_init_last_scale}",
          "budget": budget_rule(config.train), "sweep_N": list(config.sweep.budgets),
          "standard_classes": config.sweep.standard_classes, "n_min": config.sweep.n_min,
          "fit_N": list(config.sweep.fit_budgets or config.sweep.budgets), "note": description, "verdict": verdict,
          "power": preview}
  total = config.sweep.validation_budget
  if total and AVERAGE in fits:
    max_classes = source.num_classes
    prediction = held_out_prediction(fits[AVERAGE], total, max_classes, config.sweep.n_min,
                                     verdict["status"] == "under-trained")
    meta.update(validation_N=total, prediction=prediction, standard_K=standard_k(config.sweep, total, max_classes))
    run_sweep(config, workdir, validation_specs(config, prediction, fits[AVERAGE], max_classes), stage="validate",
              tasks=tasks, phases=phases, source=source)
  report = os.path.join(workdir, "report", "report.md")
  if distributed.is_writer():
    meta.update(wall_seconds=round(time.perf_counter() - start, 1), phases_seconds=phases.rounded(),
                estimate=estimate)
    io.write_json_atomic(os.path.join(workdir, "study.json"), meta)
    with phases.measure("fit_report"):
      report = write_report(workdir, probe=config.probe.kinds[0])
    # study.json then counts the report's own seconds too; the report's header shows the times before it.
    meta.update(wall_seconds=round(time.perf_counter() - start, 1), phases_seconds=phases.rounded())
    io.write_json_atomic(os.path.join(workdir, "study.json"), meta)
    timing.record_rate(fit_report_key(config), fit_report_seconds=phases.seconds["fit_report"])
  distributed.barrier(f"report:{workdir}")
  # Only the writer records wall_seconds; on a pod every other process reports its own.
  seconds = meta.get("wall_seconds", round(time.perf_counter() - start, 1))
  return {"report": report, "seconds": seconds, "prediction": meta.get("prediction"),
          "verdict": verdict, "rows": len(read_rows(workdir))}


def factor_gate_specs(config, rows, levels_config: dict, capacity: dict) -> list[tuple]:
  """(level, RunSpec) pairs retrained at 2x steps, first seed: every K of the grid at the last level listed
  (the most varied pool, the widest network, the most skewed classes: the runs likeliest to be short of
  steps), and at each budget the best K (average task, mean over seeds) at the base level (`base_level`)."""
  name, levels = factor.factor_of(config)
  seed, last = config.sweep.seeds[0], levels[-1]
  base = factor.base_level(config, name, levels)
  design = grid.design(levels_config[last].sweep, levels_config[last].sweep.k_max, capacity[last])
  specs = [(last, s) for s in design if s.seed == seed and s.mode == "class"]
  if base == last:
    return specs
  average = [r for r in _average_rows(config, rows)
             if r.stage == "sweep" and r.mode == "class" and factor.row_level(r, name) == base]
  for total in sorted({r.N for r in average}):
    at = [r for r in average if r.N == total]
    mean = {k: np.mean([r.error for r in at if r.K == k]) for k in {r.K for r in at}}
    k = min(mean, key=mean.get)
    specs.append((base, RunSpec(k, total // k, seed, imbalance=float(base) if name == "data.imbalance" else 0.0)))
  return specs


def plan_factor(config) -> list[dict]:
  """Every run a factor study trains (stage, level, N, K, n, seed, steps, images), without touching data. The
  base level's gated K depends on results not yet measured: null, its steps known from N."""
  name, levels = factor.factor_of(config)
  train, plan = config.train, []

  def entry(stage, level, spec, scale=1.0):
    total = spec.num_classes * spec.per_class
    steps = total_steps(train, total, scale)
    return {"stage": stage, "factor": name, "level": level, "mode": spec.mode, "N": total,
            "K": spec.num_classes or None, "n": spec.per_class or None, "imbalance": spec.imbalance, "seed": spec.seed,
            "steps": steps, "images": steps * train.batch_size}
  for level in levels:
    sweep = factor.at_level(config, name, level).sweep
    plan += [entry("sweep", level, s) for s in grid.design(sweep, sweep.k_max, sweep.n_max)]
  if config.sweep.gate:
    last, base = levels[-1], factor.base_level(config, name, levels)
    sweep = factor.at_level(config, name, last).sweep
    plan += [entry("gate", last, s, GATE_STEPS_SCALE) for s in grid.design(sweep, sweep.k_max, sweep.n_max)
             if s.seed == config.sweep.seeds[0] and s.mode == "class"]
    if base != last:
      plan += [{**entry("gate", base, RunSpec(1, total, config.sweep.seeds[0]), GATE_STEPS_SCALE), "K": None, "n": None}
               for total in config.sweep.budgets]
  return plan


def estimate_factor(config, plan: list[dict], measure: bool = True) -> dict:
  """`estimate_study` per level (a level that changes the network, like its width, compiles and trains at its
  own rate), summed."""
  name, levels = factor.factor_of(config)
  parts = [estimate_study(factor.at_level(config, name, level), [p for p in plan if p.get("level") == level], measure)
           for level in levels]
  phases = {}
  for part in parts:
    for key, value in part["phases_seconds"].items():
      phases[key] = round(phases.get(key, 0.0) + value, 1)
  return {"seconds": round(sum(p["seconds"] for p in parts), 1), "phases_seconds": phases,
          "programs": sum(p["programs"] for p in parts), "waves": sum(p["waves"] for p in parts),
          "rates": {k: v for p in parts for k, v in p["rates"].items()},
          "unpriced_shapes": {k: v for p in parts for k, v in p["unpriced_shapes"].items()},
          "excludes": parts[0]["excludes"]}


def level_configs(config) -> dict:
  """{level: its config}, each validated before anything is written (a bad level fails the whole study at once)."""
  name, levels = factor.factor_of(config)
  out = {level: factor.at_level(config, name, level) for level in levels}
  for level_config in out.values():
    validate(level_config)
  return out


def run_factor_study(config, workdir: str, description: str = "") -> dict:
  """A grid of K at each budget crossed with one factor (`sweep.factor` at `sweep.levels`, or the imbalance
  study's `sweep.imbalances`): the floors per width, the grid at every level, the gate (`factor_gate_specs`),
  study.json (every call that trained is kept, so a resumed study's time is the sum of its calls) and the
  report. Every stage resumes from `workdir`."""
  start, phases = time.perf_counter(), Phases()
  enable_compilation_cache()
  name, levels = factor.factor_of(config)
  configs = level_configs(config)
  estimate = estimate_factor(config, left_to_train(config, plan_factor(config), workdir), measure=False)
  sources, capacity, tasks, rows = {}, {}, None, []
  with phases.measure("data"):  # every level's pool and grid checked before any file is written
    for level, level_config in configs.items():
      sources[level] = build_source(level_config)
      capacity[level] = per_class_capacity(sources[level])
      grid.design(level_config.sweep, sources[level].num_classes, capacity[level])
    tasks = load_tasks(config, sources[levels[0]].image_shape[-1])
  io.makedirs(workdir)
  check_workdir_config(workdir, config, write=True, ignore=(name,))
  for level, level_config in configs.items():
    if config.sweep.baselines:
      with phases.measure("probe"):
        run_baselines(level_config, workdir, tasks, sources[level])
    log.info("%s = %s", name, level)
    rows = run_sweep(level_config, workdir, stage="sweep", tasks=tasks, phases=phases, source=sources[level])
  if config.sweep.gate:
    gated = factor_gate_specs(config, rows, configs, capacity)
    for level in levels:
      specs = [spec for at, spec in gated if at == level]
      if specs:
        log.info("convergence gate at %s = %s: %d runs at %gx steps", name, level, len(specs), GATE_STEPS_SCALE)
        run_sweep(configs[level], workdir, specs, stage="gate", tasks=tasks, steps_scale=GATE_STEPS_SCALE,
                  phases=phases, source=sources[level])
  meta = {**machine_meta(), "note": description, "factor": name, "levels": levels,
          "base_level": factor.base_level(config, name, levels), "k_values": list(config.sweep.k_values),
          "budgets": list(config.sweep.budgets)}
  designs = getattr(sources[levels[0]], "designs", None)
  if designs:  # where "all designs" sits on the designs factor's axis
    meta["median_designs_per_class"] = float(np.median([len(d) for d in designs]))
  if name == "data.imbalance":
    meta["imbalances"] = [float(s) for s in levels]
  report = os.path.join(workdir, "report", "report.md")
  if distributed.is_writer():
    calls = (io.read_json_if_exists(os.path.join(workdir, "study.json")) or {}).get("calls", [])
    if phases.seconds.get("train") or not calls:
      calls = calls + [{"wall_seconds": round(time.perf_counter() - start, 1), "phases_seconds": phases.rounded()}]
    totals: dict = {}
    for call in calls:
      for phase, seconds in call["phases_seconds"].items():
        totals[phase] = round(totals.get(phase, 0.0) + seconds, 1)
    meta.update(calls=calls, wall_seconds=round(sum(c["wall_seconds"] for c in calls), 1), phases_seconds=totals,
                estimate=estimate)
    io.write_json_atomic(os.path.join(workdir, "study.json"), meta)
    from jaxdiv.report.factor import write_factor_report
    report = write_factor_report(workdir, probe=config.probe.kinds[0])
  distributed.barrier(f"factor_report:{workdir}")
  return {"report": report, "seconds": meta.get("wall_seconds", round(time.perf_counter() - start, 1))}


def plan(config) -> list[dict]:
  """Every run of the config's study, factor or not."""
  return plan_factor(config) if factor.factor_of(config)[0] else plan_study(config)


def run(config, workdir: str, description: str = "") -> dict:
  """The config's study, factor or not; resumes from `workdir`."""
  if factor.factor_of(config)[0]:
    return run_factor_study(config, workdir, description)
  return run_study(config, workdir, description)
