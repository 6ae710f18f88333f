"""One trainer for every run. A single run is a stack of one; a stack trains its runs in one program over
a shared device-resident image pool, or (one run too large for device memory) over Grain-streamed batches.

`pretrain(config, workdir)` trains the config's run (`data`) or its `runs`, grouped into stacks by N and
chunked to fit memory. Every stack has the same workdir layout (`checkpoints/`, `runs.json`,
`summary.json`, `metrics.jsonl`) and resumes from it.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import time

import jax
import numpy as np

from jaxdiv import distributed, io, timing
from jaxdiv.data import build_source, sampler
from jaxdiv.data.clusters import chance_nmi, normalized_mutual_information, space_agreement
from jaxdiv.data.pipeline import materialise, streaming_dataset, to_global_array
from jaxdiv.data.sampler import RunSpec
from jaxdiv.models import build_model
from jaxdiv.timing import Phases
from jaxdiv.train import checkpoint, embed, multi
from jaxdiv.train.config import cluster_sample_classes, cluster_space, incompatible_fields, to_dict, validate
from jaxdiv.train.loop import run_loop
from jaxdiv.train.multi import TrainedStack
from jaxdiv.train.state import create_state, current_step, make_optimizer, stacked_states, total_steps

log = logging.getLogger("jaxdiv")


class ConfigMismatchError(ValueError):
  pass


def check_workdir_config(workdir: str, config, write: bool = False, ignore: tuple = ()) -> None:
  """On resume refuse a config that would train something else; with `write`, record it on first use.
  `ignore` names fields that may differ (a factor study's factor: each level sets it)."""
  path = os.path.join(workdir, "config.json")
  current = to_dict(config)
  saved = io.read_json_if_exists(path)
  if saved is not None:
    diff = [k for k in incompatible_fields(saved, current) if k not in ignore]
    if diff:
      details = ", ".join(f"{k}: {_get(saved, k)!r} -> {_get(current, k)!r}" for k in diff[:8])
      raise ConfigMismatchError(f"{workdir} holds a run with a different config ({details}). Use a new --workdir, "
                                "or rerun with the saved config to resume it.")
    return
  if write and distributed.is_writer():
    io.write_json_atomic(path, current)


def _get(tree: dict, dotted: str):
  for part in dotted.split("."):
    tree = tree.get(part) if isinstance(tree, dict) else None
  return tree


def streams(data_config, num_examples: int) -> bool:
  """Whether a run reads its batches through Grain instead of holding its subset on device."""
  return (data_config.pipeline == "stream" or data_config.crop == "random_resized"
          or (data_config.pipeline == "auto" and num_examples > data_config.memory_limit_examples))


def pretrain(config, workdir: str) -> dict:
  """Train the config's run, or its `runs` as stacks; resumes from `workdir`. Returns the summary."""
  validate(config)
  io.makedirs(workdir)
  check_workdir_config(workdir, config)
  source = build_source(config)
  strategy = multi.resolve_strategy(config)
  if not config.runs:
    spec = RunSpec(config.data.num_classes, config.data.per_class, config.seed, imbalance=float(config.data.imbalance))
    stream = streams(config.data, spec.num_classes * spec.per_class)
    check_workdir_config(workdir, config, write=True)
    return train_stack(config, source, [spec], workdir, strategy, stream=stream).summary
  stacks = plan_stacks(config, source, multi.run_specs(config), strategy)
  check_workdir_config(workdir, config, write=True)
  summaries = []
  for size, chunk in stacks:
    chunk_dir = os.path.join(workdir, f"N{size}_{multi.chunk_name(chunk)}")
    summaries.append(_saved_summary(chunk_dir) or train_stack(config, source, chunk, chunk_dir, strategy).summary)
  summary = {"runs": [run for s in summaries for run in s["runs"]], "strategy": strategy,
             "chunks": [s["workdir"] for s in summaries]}
  _write_summary(workdir, summary)
  return summary


def _saved_summary(workdir: str) -> dict | None:
  """The summary a finished stack left in `workdir`, else None."""
  return io.read_json_if_exists(os.path.join(workdir, "summary.json"))


def _write_summary(workdir: str, summary: dict) -> None:
  if distributed.is_writer():
    io.write_json_atomic(os.path.join(workdir, "summary.json"), summary)


def plan_chunks(config, source, specs, strategy) -> list[list[RunSpec]]:
  """Split runs into chunks: the config cap, else on CPU one wave (a run per device), else what fits memory
  by XLA's estimate for one run."""
  cap = config.multi.max_runs_per_chunk
  if cap or len(specs) == 1:
    size = cap or 1
  else:
    size = multi.wave_size(strategy) or multi.chunk_size(len(specs), _one_run_bytes(config, source, specs))
  return [specs[i:i + size] for i in range(0, len(specs), size)]


def plan_stacks(config, source, specs, strategy) -> list[tuple[int, list[RunSpec]]]:
  """(N, chunk) pairs: runs grouped by budget N (a stack shares N), each group chunked to fit memory."""
  groups: dict[int, list[RunSpec]] = {}
  for spec in specs:
    groups.setdefault(spec.num_classes * spec.per_class, []).append(spec)
  return [(total, chunk) for total, group in sorted(groups.items())
          for chunk in plan_chunks(config, source, group, strategy)]


def _one_run_bytes(config, source, specs) -> int:
  """XLA's memory estimate for one run of a stack (same N, head padded to the largest K), compiled from
  abstract shapes: nothing is drawn, rendered or initialised before the stack itself is built."""
  num_examples = specs[0].num_classes * specs[0].per_class
  model = build_model(config.model, max(s.num_classes for s in specs))
  optimizer = make_optimizer(config.train, total_steps(config.train, num_examples))
  state = jax.eval_shape(functools.partial(create_state, model, optimizer, image_shape=source.image_shape),
                         jax.random.key(0))
  examples = jax.ShapeDtypeStruct((num_examples,), np.int32)
  pool = jax.ShapeDtypeStruct((num_examples, *source.image_shape), np.uint8)
  single = jax.jit(functools.partial(multi.memory_step, batch_size=config.train.batch_size,
                                     **multi.step_kwargs(config.train, config.data, model, optimizer)))
  return multi.per_run_bytes(single, state, pool, examples, examples, jax.ShapeDtypeStruct((), np.int32))


def check_stack(train_config, num_runs: int, num_examples: int, mesh: jax.sharding.Mesh) -> None:
  """The checks that need a stack's N and mesh (the rest are in `config.validate`), with the fix."""
  if train_config.batch_size > num_examples:
    raise ValueError(f"train.batch_size={train_config.batch_size} exceeds the subset size N={num_examples}; "
                     "lower train.batch_size")
  data = mesh.shape["data"]
  if train_config.batch_size % data:
    left = f" left by {num_runs} runs" if num_runs > 1 else ""
    raise ValueError(f"train.batch_size={train_config.batch_size} must be divisible by the {data} devices of the data "
                     f"axis{left}; use a multiple of {data} (or set --config.mesh.data)")


@functools.lru_cache(maxsize=16)
def memory_program(train_json: str, data_json: str, model, steps: int, strategy: str, mesh: jax.sharding.Mesh):
  """The jitted stacked step for one (config, model, step budget, mesh), shared by every stack that matches,
  so a budget's waves, seeds and stages compile it once (`multi.compile_for`)."""
  import ml_collections
  train, data = (ml_collections.ConfigDict(json.loads(text)) for text in (train_json, data_json))
  return multi.stacked_step(train, data, model, make_optimizer(train, steps), strategy, mesh)


def pad_pool(images: np.ndarray, rows: int) -> np.ndarray:
  """The pool with zero rows appended up to `rows`: a stack of M runs of N examples then always has M·N
  rows (the most their union can hold), so every wave of one budget has one shape and one program."""
  missing = rows - len(images)
  return images if missing <= 0 else np.concatenate([images, np.zeros((missing, *images.shape[1:]), images.dtype)])


def _stack_inputs(config, source, stack: multi.Stack, specs, mesh, model, optimizer, strategy: str, steps: int,
                  stream: bool, state, phases: Phases):
  """(step function of (state, batch), Grain iterator or None): the same trainer fed from a device pool
  or from Grain. The pool's program is compiled here (timed as "compile"); Grain's on its first step."""
  runs = jax.NamedSharding(mesh, jax.P("runs"))
  num_classes = jax.device_put(stack.num_classes, runs)
  if stream:
    if len(specs) != 1:
      raise ValueError("a streamed stack holds one run; stack runs only with data.pipeline='memory' or 'auto'")
    iterator = iter(streaming_dataset(
        source, stack.pool_indices[stack.positions[0]], stack.labels[0], global_batch=config.train.batch_size,
        num_steps=steps, seed=specs[0].seed, prefetch_threads=config.data.prefetch_threads,
        workers=config.data.decode_workers, random_crop=config.data.crop == "random_resized", flip=config.data.flip))
    batch = jax.NamedSharding(mesh, jax.P("data"))
    jitted = multi.streamed_step(config.train, config.data, model, optimizer, mesh)
    return (lambda state, b: jitted(state, to_global_array(b["image"], batch), to_global_array(b["label"], batch),
                                    num_classes)), iterator
  replicated = jax.NamedSharding(mesh, jax.P())
  with phases.measure("data"):
    images = materialise(source, stack.pool_indices, workers=config.data.materialise_workers)
    if strategy == "unroll":
      images = pad_pool(images, stack.positions.size)
  inputs = (jax.device_put(images, replicated), jax.device_put(stack.positions, runs),
            jax.device_put(stack.labels, runs), num_classes)
  jitted = memory_program(config.train.to_json(), config.data.to_json(), model, steps, strategy, mesh)
  with phases.measure("compile"):
    compiled = multi.compile_for(jitted, state, *inputs)
  return (lambda state, _: compiled(state, *inputs)), None


def cluster_agreement(source, stack, run: int, seed: int, config, space: dict) -> dict:
  """How far a contrast run's cluster labels agree with its samples' true classes (NMI, beside the NMI of
  the same cluster sizes shuffled), how well its space groups a labelled probe of the pool by class
  (`space`: `clusters.space_agreement` of the run's seed, the same at every K), and the space they were
  clustered in."""
  true = np.asarray(source.labels)[stack.pool_indices[stack.positions[run]]]
  labels = stack.labels[run]
  return {"cluster_nmi": round(normalized_mutual_information(labels, true), 4),
          "cluster_nmi_chance": round(chance_nmi(labels, true, seed), 4),
          **space, "cluster_features": cluster_space(config), "cluster_sample_classes": cluster_sample_classes(config)}


def train_stack(config, source, specs: list[RunSpec], workdir: str, strategy: str, steps_scale: float = 1.0,
                stream: bool = False, head_classes: int = 0, phases: Phases | None = None) -> TrainedStack:
  """Train (or resume, or just restore when finished) one stack in `workdir`. `steps_scale` multiplies
  every run's budget (the convergence gate trains at 2x); `stream` feeds its one run through Grain.
  `head_classes` pads every head to at least that many classes (masked, so training is unchanged): a
  study gives every stack of one budget the same head, hence one compiled program. `phases` collects
  wall seconds by phase."""
  phases = phases if phases is not None else Phases()
  io.makedirs(workdir)
  with phases.measure("data"):
    clustered = any(s.mode == "cluster" for s in specs)
    featurize = embed.cluster_featurizer(config, source.image_shape) if clustered else None
    stack = multi.draw_stack(source, specs, config.data.subset_seed, featurize, cluster_sample_classes(config))
  num_examples = stack.positions.shape[1]
  steps = total_steps(config.train, num_examples, steps_scale)
  mesh = multi.make_mesh(len(specs), config.mesh.runs, config.mesh.data)
  check_stack(config.train, len(specs), num_examples, mesh)
  head = max(int(stack.num_classes.max()), head_classes)
  model = build_model(config.model, head)
  optimizer = make_optimizer(config.train, steps)
  state = stacked_states(model, optimizer, [s.seed for s in specs], source.image_shape,
                         jax.NamedSharding(mesh, jax.P("runs")))
  if distributed.is_writer():
    io.write_json_atomic(os.path.join(workdir, "runs.json"), [s.__dict__ for s in specs])
  manager = checkpoint.open_manager(workdir, config.keep_checkpoints)
  restored = checkpoint.restore_latest(manager, state, None)
  if restored is not None and current_step(restored) >= steps:
    finished = _saved_summary(workdir)
    if finished:
      manager.close()
      return TrainedStack(workdir, tuple(specs), finished, model, restored)
  compile_start, misses = phases.seconds.get("compile", 0.0), multi.compiled_program.cache_info().misses
  step_fn, iterator = _stack_inputs(config, source, stack, specs, mesh, model, optimizer, strategy, steps, stream,
                                    state, phases)
  # A program this process compiled already costs nothing: only a new one is recorded as a compile.
  compiled_now = multi.compiled_program.cache_info().misses > misses
  compile_seconds = phases.seconds.get("compile", 0.0) - compile_start if compiled_now else 0.0
  if iterator is not None:  # The Grain iterator's position is part of the checkpoint.
    restored = checkpoint.restore_latest(manager, state, iterator)
  if restored is not None:
    state = restored
    log.info("resuming %s from step %d", workdir, current_step(state))
  start, first_step = time.perf_counter(), current_step(state)
  description = specs[0].name if len(specs) == 1 else f"{len(specs)} runs N={num_examples}"
  with phases.measure("train"):
    state, row = run_loop(state, step_fn, num_steps=steps, workdir=workdir, manager=manager,
                          checkpoint_every=config.checkpoint_every, log_every=config.log_every,
                          images_per_step=config.train.batch_size * len(specs), data_iterator=iterator,
                          progress=config.progress, description=description)
  manager.close()
  train_seconds = time.perf_counter() - start
  images_per_second = (steps - first_step) * config.train.batch_size * len(specs) / max(train_seconds, 1e-9)
  key = timing.shape_key(config, len(specs), dict(mesh.shape), source.image_shape)
  if distributed.is_writer() and steps - first_step >= 20:
    timing.record_rate(key, images_per_second=images_per_second, compile_seconds=compile_seconds)
  losses = row.get("loss_runs", [row.get("loss")] * len(specs))
  accuracies = row.get("accuracy_runs", [row.get("accuracy")] * len(specs))
  spaces = {seed: space_agreement(source, featurize, seed) for seed in {s.seed for s in specs if s.mode == "cluster"}}
  summary = {"workdir": workdir, "steps": steps, "pipeline": "stream" if stream else "memory", "strategy": strategy,
             "mesh": dict(mesh.shape), "devices": mesh.size, "image_shape": list(source.image_shape),
             "head_classes": head, "seconds_this_session": round(train_seconds, 1),
             "compile_seconds": round(compile_seconds, 2), "images_per_second": round(images_per_second, 1),
             "shape_key": key,
             "runs": [dict(s.__dict__, train_loss=loss, train_accuracy=acc, workdir=workdir, index=i,
                           effective_classes=sampler.effective_classes(np.bincount(labels)),
                           **(cluster_agreement(source, stack, i, s.seed, config, spaces[s.seed])
                              if s.mode == "cluster" else {}))
                      for i, (s, loss, acc, labels) in enumerate(zip(specs, losses, accuracies, stack.labels))]}
  _write_summary(workdir, summary)
  return TrainedStack(workdir, tuple(specs), summary, model, state)
