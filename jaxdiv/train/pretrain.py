"""Assemble a pre-training run (or a stack of runs) from a config: data, mesh, model, loop, summary."""

from __future__ import annotations

import functools
import logging
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxdiv import distributed, io
from jaxdiv.data import get_source
from jaxdiv.data.pipeline import draw_subset, materialise, streaming_dataset, to_global_array
from jaxdiv.models import ResNet18
from jaxdiv.train import checkpoint, multi
from jaxdiv.train.config import incompatible_fields, to_dict, validate
from jaxdiv.train.loop import run_loop
from jaxdiv.train.state import create_state, current_step, make_optimizer, total_steps
from jaxdiv.train.step import jit_memory_step, jit_stream_step

log = logging.getLogger("jaxdiv")


class ConfigMismatchError(ValueError):
  pass


def build_model(config, num_classes: int):
  dtype = jnp.bfloat16 if config.model.dtype == "bfloat16" else jnp.float32
  return ResNet18(num_classes, stem=config.model.stem, width=config.model.width, dtype=dtype,
                  zero_init_last_scale=config.model.zero_init_last_scale)


def build_source(config, split: str | None = None):
  options = {}
  if config.data.source.startswith("glyphs") and config.data.glyph_range:
    first, last = config.data.glyph_range.split("-")
    options["codepoint_range"] = (int(first, 16), int(last, 16))
  return get_source(config.data.source, split=split or config.data.split, resolution=config.data.resolution,
                    data_dir=config.data.data_dir or None, **options)


def check_workdir_config(workdir: str, config, write: bool = False) -> None:
  """On resume refuse a config that would train something else; with `write`, record it on first use."""
  path = os.path.join(workdir, "config.json")
  current = to_dict(config)
  saved = io.read_json_if_exists(path)
  if saved is not None:
    diff = incompatible_fields(saved, current)
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


def data_mesh(config) -> jax.sharding.Mesh:
  devices = jax.devices()
  size = config.mesh.data or len(devices)
  return jax.make_mesh((size,), ("data",), axis_types=(jax.sharding.AxisType.Auto,), devices=devices[:size])


def _fresh_state(model, optimizer, key, image_shape, sharding):
  return jax.jit(functools.partial(create_state, model, optimizer, image_shape=image_shape),
                 out_shardings=sharding)(key)


def pretrain(config, workdir: str) -> dict:
  """Train one run, or the config's `runs` as stacks; resumes from `workdir`. Returns the summary."""
  validate(config, jax.device_count())
  io.makedirs(workdir)
  check_workdir_config(workdir, config)
  if config.runs:
    return pretrain_runs(config, workdir)
  source = build_source(config)
  seed = config.seed
  subset = draw_subset(source, config.data.num_classes, config.data.per_class,
                       seed if config.data.subset_seed < 0 else config.data.subset_seed)
  num_examples = len(subset.indices)
  steps = total_steps(config.train, num_examples)
  mesh = data_mesh(config)
  model = build_model(config, subset.num_classes)
  optimizer = make_optimizer(config.train, steps)
  replicated = jax.NamedSharding(mesh, jax.P())
  state = _fresh_state(model, optimizer, jax.random.key(seed), source.image_shape, replicated)
  manager = checkpoint.open_manager(workdir, config.keep_checkpoints)
  num_classes = jax.device_put(np.int32(subset.num_classes), replicated)
  stream = (config.data.pipeline == "stream" or config.data.crop == "random_resized"
            or (config.data.pipeline == "auto" and num_examples > config.data.memory_limit_examples))
  iterator = None
  if stream:
    dataset = streaming_dataset(source, subset.indices, subset.labels, global_batch=config.train.batch_size,
                                num_steps=steps, seed=seed, prefetch_threads=config.data.prefetch_threads,
                                workers=config.data.decode_workers, random_crop=config.data.crop == "random_resized",
                                flip=config.data.flip)
    iterator = iter(dataset)
    batch_sharding = jax.NamedSharding(mesh, jax.P("data"))
    jitted = jit_stream_step(config, model, optimizer, mesh)

    def step_fn(state, batch):
      return jitted(state, to_global_array(batch["image"], batch_sharding),
                    to_global_array(batch["label"], batch_sharding), num_classes)
  else:
    images = materialise(source, subset.indices, workers=config.data.materialise_workers)
    pool = jax.device_put(images, replicated)
    positions = jax.device_put(np.arange(num_examples, dtype=np.int32), replicated)
    labels = jax.device_put(subset.labels.astype(np.int32), replicated)
    jitted = jit_memory_step(config, model, optimizer, mesh)

    def step_fn(state, batch):
      return jitted(state, pool, positions, labels, num_classes)
  check_workdir_config(workdir, config, write=True)
  restored = checkpoint.restore_latest(manager, state, iterator)
  if restored is not None:
    state = restored
    log.info("resuming %s from step %d", workdir, current_step(state))
  finished = _saved_summary(workdir) if current_step(state) >= steps else None
  if finished:
    manager.close()
    return finished
  start = time.perf_counter()
  state, row = run_loop(state, step_fn, num_steps=steps, workdir=workdir, manager=manager,
                        checkpoint_every=config.checkpoint_every, log_every=config.log_every,
                        images_per_step=config.train.batch_size, data_iterator=iterator, progress=config.progress,
                        description=f"K={subset.num_classes} n={subset.per_class}")
  manager.close()
  summary = {"runs": [{"num_classes": subset.num_classes, "per_class": subset.per_class, "seed": seed,
                       "train_loss": row.get("loss"), "train_accuracy": row.get("accuracy")}],
             "steps": steps, "pipeline": "stream" if stream else "memory", "devices": mesh.size,
             "seconds_this_session": round(time.perf_counter() - start, 1)}
  _write_summary(workdir, summary)
  return summary


def _saved_summary(workdir: str) -> dict | None:
  """The summary a finished run (or stack) left in `workdir`, else None."""
  return io.read_json_if_exists(os.path.join(workdir, "summary.json"))


def _write_summary(workdir: str, summary: dict) -> None:
  if distributed.is_writer():
    io.write_json_atomic(os.path.join(workdir, "summary.json"), summary)


def pretrain_runs(config, workdir: str) -> dict:
  """The config's runs, grouped by N into stacks, each stack chunked to fit memory, each chunk resumable."""
  source = build_source(config)
  strategy = multi.resolve_strategy(config)
  stacks = plan_stacks(config, source, multi.run_specs(config), strategy)
  check_workdir_config(workdir, config, write=True)
  summaries = []
  for size, chunk in stacks:
    chunk_dir = os.path.join(workdir, f"N{size}_{multi.chunk_name(chunk)}")
    summaries.append(_saved_summary(chunk_dir) or train_stack(config, source, chunk, chunk_dir, strategy)[0])
  runs = [run for s in summaries for run in s["runs"]]
  summary = {"runs": runs, "strategy": strategy, "chunks": [s["workdir"] for s in summaries]}
  _write_summary(workdir, summary)
  return summary


def _stack_program(config, source, specs, strategy, steps_scale: float = 1.0):
  """Everything a stack needs to step: model, optimiser, mesh, sharded inputs, fresh state, jitted step.
  `steps_scale` multiplies the run's budget (the convergence gate trains at 2x)."""
  stack = multi.draw_stack(source, specs, config.data.subset_seed)
  num_examples = stack.positions.shape[1]
  steps = total_steps(config.train, num_examples, steps_scale)
  if config.train.batch_size > num_examples:
    raise ValueError(f"train.batch_size={config.train.batch_size} exceeds N={num_examples}; lower it")
  model = build_model(config, int(stack.num_classes.max()))
  optimizer = make_optimizer(config.train, steps)
  mesh = multi.make_mesh(len(specs), config.mesh.runs, config.mesh.data)
  if config.train.batch_size % mesh.shape["data"]:
    raise ValueError(f"train.batch_size={config.train.batch_size} must divide over the {mesh.shape['data']} devices "
                     f"of the data axis left by {len(specs)} runs; set --config.mesh.data=1 or a batch size divisible "
                     f"by {mesh.shape['data']}")
  runs, replicated = jax.NamedSharding(mesh, jax.P("runs")), jax.NamedSharding(mesh, jax.P())
  keys = jnp.stack([jax.random.key(s.seed) for s in specs])
  create = jax.vmap(functools.partial(create_state, model, optimizer, image_shape=source.image_shape))
  state = jax.jit(create, out_shardings=runs)(keys)
  images = materialise(source, stack.pool_indices, workers=config.data.materialise_workers)
  inputs = (jax.device_put(images, replicated), jax.device_put(stack.positions, runs),
            jax.device_put(stack.labels, runs), jax.device_put(stack.num_classes, runs))
  jitted = multi.stacked_step(config, model, optimizer, strategy, mesh)
  return dict(stack=stack, steps=steps, model=model, optimizer=optimizer, mesh=mesh, state=state, inputs=inputs,
              step=jitted)


def plan_chunks(config, source, specs, strategy) -> list[list[multi.RunSpec]]:
  """Split runs into chunks that fit memory: the config cap, else XLA's estimate for one run."""
  cap = config.multi.max_runs_per_chunk
  size = (cap or 1) if cap or len(specs) == 1 else multi.chunk_size(len(specs), _one_run_bytes(config, source, specs))
  return [specs[i:i + size] for i in range(0, len(specs), size)]


def plan_stacks(config, source, specs, strategy) -> list[tuple[int, list[multi.RunSpec]]]:
  """(N, chunk) pairs: runs grouped by budget N (a stack shares N), each group chunked to fit memory."""
  groups: dict[int, list[multi.RunSpec]] = {}
  for spec in specs:
    groups.setdefault(spec.num_classes * spec.per_class, []).append(spec)
  return [(total, chunk) for total, group in sorted(groups.items())
          for chunk in plan_chunks(config, source, group, strategy)]


def _one_run_bytes(config, source, specs) -> int:
  """XLA's memory estimate for one run of a stack (same N, head padded to the largest K), compiled from
  abstract shapes: nothing is drawn, rendered or initialised before the stack itself is built."""
  num_examples = specs[0].num_classes * specs[0].per_class
  model = build_model(config, max(s.num_classes for s in specs))
  optimizer = make_optimizer(config.train, total_steps(config.train, num_examples))
  state = jax.eval_shape(functools.partial(create_state, model, optimizer, image_shape=source.image_shape),
                         jax.random.key(0))
  examples = jax.ShapeDtypeStruct((num_examples,), np.int32)
  pool = jax.ShapeDtypeStruct((num_examples, *source.image_shape), np.uint8)
  single = jax.jit(functools.partial(multi.memory_step, batch_size=config.train.batch_size,
                                     **multi.step_kwargs(config, model, optimizer)))
  return multi.per_run_bytes(single, state, pool, examples, examples, jax.ShapeDtypeStruct((), np.int32))


def train_stack(config, source, specs, workdir: str, strategy: str, steps_scale: float = 1.0):
  """Train (or resume, or just restore when finished) one stack; returns (summary, final state, model)."""
  io.makedirs(workdir)
  program = _stack_program(config, source, specs, strategy, steps_scale)
  if distributed.is_writer():
    io.write_json_atomic(os.path.join(workdir, "runs.json"), [s.__dict__ for s in specs])
  manager = checkpoint.open_manager(workdir, config.keep_checkpoints)
  state = checkpoint.restore_latest(manager, program["state"]) or program["state"]
  finished = _saved_summary(workdir) if current_step(state) >= program["steps"] else None
  if finished:
    manager.close()
    return finished, state, program["model"]
  jitted, inputs = program["step"], program["inputs"]
  start = time.perf_counter()
  state, row = run_loop(state, lambda s, _: jitted(s, *inputs), num_steps=program["steps"], workdir=workdir,
                        manager=manager, checkpoint_every=config.checkpoint_every, log_every=config.log_every,
                        images_per_step=config.train.batch_size * len(specs), progress=config.progress,
                        description=f"{len(specs)} runs N={program['stack'].positions.shape[1]}")
  manager.close()
  losses = row.get("loss_runs", [row.get("loss")] * len(specs))
  accuracies = row.get("accuracy_runs", [row.get("accuracy")] * len(specs))
  summary = {"workdir": workdir, "steps": program["steps"], "strategy": strategy, "mesh": dict(program["mesh"].shape),
             "seconds_this_session": round(time.perf_counter() - start, 1),
             "runs": [dict(s.__dict__, train_loss=loss, train_accuracy=acc, workdir=workdir, index=i)
                      for i, (s, loss, acc) in enumerate(zip(specs, losses, accuracies))]}
  _write_summary(workdir, summary)
  return summary, state, program["model"]
