"""A study's wall time on this machine, before it runs: the plan's runs grouped into the programs the sweep
will compile and the waves it will train, priced with the rates that earlier stacks of the same shapes
recorded (`jaxdiv.timing`), else with a few timed steps of each shape.
"""

from __future__ import annotations

import functools
import time

import jax
import numpy as np

from jaxdiv import timing
from jaxdiv.data.sources import is_pool
from jaxdiv.models import build_model
from jaxdiv.train import multi
from jaxdiv.train.pretrain import memory_program
from jaxdiv.train.state import create_state, make_optimizer, stacked_states

# A forward pass costs about a third of a training step (forward, backward, update), so probe features are
# priced at 3x the training rate when no probe has been timed on this machine.
FORWARD_SPEEDUP = 3.0
TIMED_STEPS = 6
# About a minute of timed steps at the tens of GFLOP/s a laptop CPU sustains on these convolutions.
MAX_TIMED_FLOPS = 2e12


def fit_report_key(config) -> str:
  return f"fit_report|replicates{config.sweep.replicates}|budgets{len(config.sweep.budgets)}"


def image_shape(config) -> tuple:
  """The model's input without reading data: the grey rendered pools, else three channels."""
  channels = 1 if is_pool(config.data.source) else 3
  return (config.data.resolution, config.data.resolution, channels)


def programs(config, plan: list[dict]) -> list[dict]:
  """The plan as the sweep will train it: per stage, runs of one N (and step budget) in waves of one run per
  device on CPU (or one stack elsewhere); each wave with its size, mesh and steps."""
  strategy = multi.resolve_strategy(config)
  groups: dict[tuple, int] = {}
  for entry in plan:
    if entry["stage"] != "baseline":
      key = (entry["stage"], entry["N"], entry["steps"])
      groups[key] = groups.get(key, 0) + 1
  size = config.multi.max_runs_per_chunk or multi.wave_size(strategy)
  waves = []
  for (stage, total, steps), count in groups.items():
    chunks = [size] * (count // size) + [count % size] if size else [count]
    for runs in (c for c in chunks if c):
      mesh = multi.make_mesh(runs, config.mesh.runs, config.mesh.data)
      waves.append({"stage": stage, "N": total, "steps": steps, "runs": runs, "mesh": dict(mesh.shape),
                    "key": timing.shape_key(config, runs, dict(mesh.shape), image_shape(config))})
  return waves


def time_shape(config, runs: int) -> dict | str:
  """Compile seconds and images/s of one wave of `runs` on random images: what `--plan` measures for a shape
  no earlier stack on this machine recorded. A shape whose timed steps would cost more than
  `MAX_TIMED_FLOPS` on a CPU (an ImageNet pod config on a laptop) is not run: the reason comes back instead."""
  strategy = multi.resolve_strategy(config)
  mesh = multi.make_mesh(runs, config.mesh.runs, config.mesh.data)
  shape, batch = image_shape(config), config.train.batch_size
  total, classes, budget = 4 * batch, 16, 100
  model = build_model(config.model, classes)
  optimizer = make_optimizer(config.train, budget)
  runs_sharding, replicated = jax.NamedSharding(mesh, jax.P("runs")), jax.NamedSharding(mesh, jax.P())
  one_run = jax.eval_shape(functools.partial(create_state, model, optimizer, image_shape=shape), jax.random.key(0))
  state_avals = jax.tree.map(lambda x: jax.ShapeDtypeStruct((runs, *x.shape), x.dtype, sharding=runs_sharding),
                             one_run)
  input_avals = (jax.ShapeDtypeStruct((runs * total, *shape), np.uint8, sharding=replicated),
                 *(jax.ShapeDtypeStruct(size, np.int32, sharding=runs_sharding)
                   for size in ((runs, total), (runs, total), (runs,))))
  jitted = memory_program(config.train.to_json(), config.data.to_json(), model, budget, strategy, mesh)
  flops = (jitted.lower(state_avals, *input_avals).cost_analysis() or {}).get("flops", 0.0)
  if jax.default_backend() == "cpu" and flops * (TIMED_STEPS + 1) > MAX_TIMED_FLOPS:
    return (f"not timed here: {TIMED_STEPS + 1} steps of {flops / 1e9:,.0f} GFLOP would take minutes on this "
            "CPU (its first stack records the rate)")
  state = stacked_states(model, optimizer, list(range(runs)), shape, runs_sharding)
  rng = np.random.default_rng(0)
  inputs = (jax.device_put(rng.integers(0, 256, (runs * total, *shape), np.uint8), replicated),
            jax.device_put(rng.permutation(runs * total).reshape(runs, total).astype(np.int32), runs_sharding),
            jax.device_put(rng.integers(0, classes, (runs, total)).astype(np.int32), runs_sharding),
            jax.device_put(np.full(runs, classes, np.int32), runs_sharding))
  start = time.perf_counter()
  compiled = multi.compile_for(jitted, state, *inputs)
  compile_seconds = time.perf_counter() - start
  state, metrics = compiled(state, *inputs)
  jax.block_until_ready(metrics)
  start = time.perf_counter()
  for _ in range(TIMED_STEPS):
    state, metrics = compiled(state, *inputs)
  jax.block_until_ready(metrics)
  return {"compile_seconds": compile_seconds,
          "images_per_second": TIMED_STEPS * batch * runs / (time.perf_counter() - start)}


def estimate_study(config, plan: list[dict], measure: bool = True) -> dict:
  """Seconds by phase (compile, train, probe, fit_report) for `plan` on this machine, and where each rate
  came from. Without `measure`, shapes no stack recorded are left out and named. Data preparation on
  first use (the glyph design index, the downstream tasks) is not included."""
  waves = programs(config, plan)
  rates, sources, missing = {}, {}, {}
  for key, runs in {w["key"]: w["runs"] for w in waves}.items():
    recorded = {name: timing.recorded(key, name) for name in ("images_per_second", "compile_seconds",
                                                               "probe_images_per_second")}
    timed = time_shape(config, runs) if measure and not recorded["images_per_second"] else None
    if recorded["images_per_second"]:
      rates[key], sources[key] = recorded, "recorded"
    elif isinstance(timed, dict):
      rates[key], sources[key] = {**recorded, **timed}, "timed steps"
    else:
      missing[key] = timed or "no stack of this shape has run here yet"
  seconds = {"compile": 0.0, "train": 0.0, "probe": 0.0}
  compiled = set()
  probe_images = len(config.probe.tasks) * (config.probe.max_train + config.probe.max_test)
  for wave in (w for w in waves if w["key"] in rates):
    rate = rates[wave["key"]]
    program = (wave["N"], wave["steps"], wave["runs"])
    if program not in compiled:
      compiled.add(program)
      seconds["compile"] += rate.get("compile_seconds") or 0.0
    seconds["train"] += wave["steps"] * config.train.batch_size * wave["runs"] / rate["images_per_second"]
    probe_rate = rate.get("probe_images_per_second") or FORWARD_SPEEDUP * rate["images_per_second"]
    seconds["probe"] += wave["runs"] * probe_images / probe_rate
  fit_report = timing.recorded(fit_report_key(config), "fit_report_seconds")
  if fit_report:
    seconds["fit_report"] = fit_report
  total = sum(seconds.values())
  return {"seconds": round(total, 1), "phases_seconds": {k: round(v, 1) for k, v in seconds.items()},
          "programs": len(compiled), "waves": len(waves), "rates": sources, "unpriced_shapes": missing,
          "excludes": "first-use data preparation" + ("" if fit_report else "; fit and report (no earlier study)")}


def estimate_line(what: str, estimate: dict) -> str:
  """The estimate as one sentence for a person about to start the study."""
  sources = ", ".join(sorted(set(estimate["rates"].values()))) or "none"
  unpriced = estimate["unpriced_shapes"]
  left_out = f"; {len(unpriced)} shapes not priced: {sorted(set(unpriced.values()))}" if unpriced else ""
  return (f"{what}: about {estimate['seconds'] / 60:.0f} min on this machine ({estimate['programs']} programs to "
          f"compile, {estimate['waves']} waves; rates from: {sources}; excludes {estimate['excludes']}{left_out})")
