"""The training loop shared by single runs and stacks: metrics, checkpoints, preemption, NaN stop."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import signal
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxdiv import distributed, io
from jaxdiv.train import checkpoint
from jaxdiv.train.state import current_step

log = logging.getLogger("jaxdiv")


class NonFiniteLossError(FloatingPointError):
  pass


class Preempted(Exception):
  """Raised after SIGTERM once a checkpoint of the current step is on disk."""


@contextlib.contextmanager
def sigterm_flag():
  """Turns SIGTERM (how Cloud TPU and most schedulers preempt) into a flag checked between steps."""
  flag = {"set": False}
  def handler(signum, frame):
    flag["set"] = True
  try:
    previous = signal.signal(signal.SIGTERM, handler)
  except ValueError:  # Not the main thread: preemption is then the caller's business.
    yield flag
    return
  try:
    yield flag
  finally:
    signal.signal(signal.SIGTERM, previous)


@jax.jit
def _all_finite(tree) -> jax.Array:
  return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)
                            if jnp.issubdtype(x.dtype, jnp.floating)]))


def _has_module(name: str) -> bool:
  import importlib.util
  try:
    return importlib.util.find_spec(name) is not None
  except ModuleNotFoundError:
    return False


class MetricsWriter:
  """JSON lines in the workdir plus TensorBoard scalars; on resume, rows past the restored step are dropped."""

  def __init__(self, workdir: str, resumed_step: int, enabled: bool = True):
    self.path = os.path.join(workdir, "metrics.jsonl")
    self.enabled = enabled and distributed.is_writer()
    self.tensorboard = None
    if not self.enabled:
      return
    if io.exists(self.path):
      rows = [line + "\n" for line in io.read_text(self.path).splitlines()
              if line.strip() and json.loads(line)["step"] <= resumed_step]
      io.write_text_atomic(self.path, "".join(rows))
    if io.is_cloud(workdir) and not _has_module("google.cloud.storage"):
      log.warning("no TensorBoard events in %s: tensorboardX writes to buckets only with google-cloud-storage "
                  "installed (pip install google-cloud-storage); metrics.jsonl holds every logged row", workdir)
      return
    from tensorboardX import SummaryWriter
    self.tensorboard = SummaryWriter(os.path.join(workdir, "tensorboard"), purge_step=resumed_step + 1)

  def write(self, row: dict) -> None:
    if not self.enabled:
      return
    io.append_text(self.path, json.dumps(row) + "\n")
    if self.tensorboard is None:
      return
    for name, value in row.items():
      if name != "step" and isinstance(value, (int, float)):
        self.tensorboard.add_scalar(f"train/{name}", value, row["step"])

  def close(self) -> None:
    if self.tensorboard is not None:
      self.tensorboard.close()


def _summarise(metrics: dict) -> dict:
  """Scalars for one run; per-run lists plus their mean for a stack."""
  row = {}
  for name, value in distributed.host_value(metrics).items():
    value = np.asarray(value, np.float64)
    row[name] = float(value.mean())
    if value.ndim:
      row[f"{name}_runs"] = [float(v) for v in value]
  return row


def run_loop(state, step_fn, *, num_steps: int, workdir: str, manager, checkpoint_every: int, log_every: int,
             images_per_step: int, data_iterator=None, progress: bool = True, description: str = "train"):
  """Step `state` to `num_steps`; returns the final state and the last logged metrics row.

  Checkpoints hold the state and the iterator together, so resuming replays exactly the same batches.
  A non-finite loss or state stops the run before it is saved, so the last checkpoint stays good.
  """
  start_step = current_step(state)
  writer = MetricsWriter(workdir, start_step)
  bar = None
  if progress and jax.process_index() == 0:
    from tqdm.auto import tqdm
    bar = tqdm(total=num_steps, initial=start_step, desc=description, unit="step", dynamic_ncols=True)
  last_good, row, metrics = start_step, {}, None
  window_start, window_step = time.perf_counter(), start_step
  try:
    with sigterm_flag() as preempt:
      for step in range(start_step + 1, num_steps + 1):
        batch = next(data_iterator) if data_iterator is not None else None
        state, metrics = step_fn(state, batch)
        should_save = step % checkpoint_every == 0 or step == num_steps or preempt["set"]
        if step % log_every == 0 or should_save:
          row = _summarise(metrics)
          if not (math.isfinite(row["loss"]) and bool(_all_finite(state.params))):
            raise NonFiniteLossError(
                f"{description}: the loss became {row['loss']} between steps {last_good} and {step}. The last good "
                f"checkpoint (step {last_good}) is kept in {workdir}. Lower train.learning_rate or raise "
                "train.warmup_fraction, then rerun in a new --workdir.")
          elapsed = time.perf_counter() - window_start
          row.update(step=step, images_per_second=round((step - window_step) * images_per_step / elapsed, 1))
          window_start, window_step = time.perf_counter(), step
          writer.write(row)
          if bar is not None:
            bar.set_postfix(loss=f"{row['loss']:.3f}", acc=f"{row['accuracy']:.3f}",
                            img_s=f"{row['images_per_second']:.0f}")
        if should_save:
          checkpoint.save(manager, state, data_iterator)
          last_good = step
        if bar is not None:
          bar.update(1)
        if preempt["set"]:
          manager.wait_until_finished()
          raise Preempted(f"{description}: stopped by SIGTERM at step {step}; checkpoint saved in {workdir}. "
                          "Run the same command again to resume.")
  finally:
    manager.wait_until_finished()
    writer.close()
    if bar is not None:
      bar.close()
  return state, row
