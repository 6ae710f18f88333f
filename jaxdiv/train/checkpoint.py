"""Orbax checkpoints of the train state (and the Grain iterator) with loud fallback on corruption."""

from __future__ import annotations

import logging
import os

import grain
import orbax.checkpoint as ocp

from jaxdiv import io
from jaxdiv.train.state import current_step, make_optimizer, stacked_states

log = logging.getLogger("jaxdiv")


class CheckpointError(RuntimeError):
  pass


def open_manager(workdir: str, keep: int) -> ocp.CheckpointManager:
  options = ocp.CheckpointManagerOptions(
      save_interval_steps=1, create=True, enable_async_checkpointing=True,
      preservation_policy=ocp.checkpoint_managers.LatestN(max(1, keep)))
  root = workdir if io.is_cloud(workdir) else os.path.abspath(workdir)
  return ocp.CheckpointManager(os.path.join(root, "checkpoints"), options=options)


def save(manager: ocp.CheckpointManager, state, data_iterator=None) -> None:
  items = {"state": ocp.args.StandardSave(state)}
  if data_iterator is not None:
    items["data"] = grain.checkpoint.CheckpointSave(data_iterator)
  manager.save(current_step(state), args=ocp.args.Composite(**items), force=True)


def restore_latest(manager: ocp.CheckpointManager, abstract_state, data_iterator=None):
  """The newest readable checkpoint's state (the iterator is restored in place), or None if there is none.

  An unreadable newest step falls back to the one before it with a warning; if no step is readable the
  error names the directory, because silently restarting from scratch would discard the user's compute.
  """
  steps = sorted(manager.all_steps(), reverse=True)
  errors = []
  for step in steps:
    items = {"state": ocp.args.StandardRestore(abstract_state)}
    if data_iterator is not None:
      items["data"] = grain.checkpoint.CheckpointRestore(data_iterator)
    try:
      restored = manager.restore(step, args=ocp.args.Composite(**items))
    except Exception as error:  # noqa: BLE001 - any unreadable checkpoint is reported, then the next tried
      errors.append(f"step {step}: {type(error).__name__}: {str(error)[:300]}")
      log.warning("checkpoint step %d in %s is unreadable (%s); trying the previous one", step,
                  manager.directory, type(error).__name__)
      continue
    if errors:
      log.warning("RESUMED FROM AN OLDER CHECKPOINT (step %d) because newer ones are unreadable:\n  %s", step,
                  "\n  ".join(errors))
    return restored["state"]
  if errors:
    raise CheckpointError(
        f"no readable checkpoint in {manager.directory}:\n  " + "\n  ".join(errors) +
        "\nIf the config changed, use a new --workdir; to start over, delete that checkpoints folder.")
  return None


def restore_workdir(workdir: str, abstract_state, keep: int = 2):
  """`restore_latest` of a finished or interrupted run's workdir, for reading it (probes, tests)."""
  manager = open_manager(workdir, keep)
  try:
    return restore_latest(manager, abstract_state)
  finally:
    manager.close()


def load_run(workdir: str) -> list:
  """The stacks a finished `jaxdiv pretrain` workdir holds (one for a single run), each a `TrainedStack`
  with its final parameters restored from the last readable checkpoint. Reads no image and never trains,
  so probing a run costs only its features."""

  from jaxdiv.train.config import load_workdir_config
  config = load_workdir_config(workdir)
  summary = io.read_json_if_exists(os.path.join(workdir, "summary.json"))
  if summary is None:
    raise FileNotFoundError(f"{workdir} has no summary.json: the run is not finished. Run the same `jaxdiv pretrain` "
                            "command into it first (it resumes)")
  return [load_stack(folder, config) for folder in summary.get("chunks") or [workdir]]


def load_stack(folder: str, config):
  """One finished stack folder (its summary.json and last checkpoint) as a `TrainedStack`, built with the
  `config` that trained it (a pretrain workdir's, or the study's for a folder under `<study>/runs/`)."""
  from jaxdiv.data.sampler import RunSpec
  from jaxdiv.models import build_model
  from jaxdiv.train.multi import TrainedStack
  stack = io.read_json_if_exists(os.path.join(folder, "summary.json"))
  if stack is None:
    raise FileNotFoundError(f"{folder} has no summary.json: the stack is not finished. Run the command that "
                            "trained it again (it resumes)")
  specs = tuple(RunSpec(r["num_classes"], r["per_class"], r["seed"], r.get("mode", "class"), r.get("imbalance", 0.0))
                for r in stack["runs"])
  if "image_shape" not in stack:
    raise ValueError(f"{folder} was written by a jaxdiv older than one trainer for single runs and stacks; "
                     "probe it with that version, or retrain it")
  model = build_model(config.model, stack.get("head_classes") or max(s.num_classes for s in specs))
  optimizer = make_optimizer(config.train, stack["steps"])
  target = stacked_states(model, optimizer, [0] * len(specs), stack["image_shape"])
  state = restore_workdir(folder, target, config.keep_checkpoints)
  if state is None:
    raise FileNotFoundError(f"{folder} has no checkpoint yet: run the command that trained it into it first")
  return TrainedStack(folder, specs, stack, model, state)
