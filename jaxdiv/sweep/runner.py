"""The resumable sweep: train the grid as stacks, probe every downstream task, append rows atomically.

A run is finished when the results table holds its row for every task and probe. A sweep killed at any
point and started again skips finished runs, resumes an interrupted stack from its checkpoint, and
probes trained-but-unprobed stacks from their final checkpoint; no row is lost or duplicated.
"""

from __future__ import annotations

import logging
import os
import time

import jax
import numpy as np

from jaxdiv import distributed, io
from jaxdiv.data import downstream, get_source
from jaxdiv.data.sources import split_location, to_channels
from jaxdiv.probe.features import extract_features
from jaxdiv.probe.logistic import logistic_probe
from jaxdiv.probe.ridge import ridge_probe_runs
from jaxdiv.results import ResultRow, append_rows, read_rows
from jaxdiv.sweep import grid
from jaxdiv.train import multi
from jaxdiv.train.pretrain import build_model, build_source, check_workdir_config, plan_stacks, train_stack
from jaxdiv.train.state import create_state, make_optimizer

log = logging.getLogger("jaxdiv")


def _run_key(spec: multi.RunSpec, stage: str) -> tuple:
  return (spec.mode, spec.num_classes, spec.per_class, spec.seed, stage)


def finished_runs(workdir: str, tasks, probes) -> set[tuple]:
  have: dict[tuple, set] = {}
  for row in read_rows(workdir):
    have.setdefault((row.mode, row.K, row.n, row.seed, row.stage), set()).add((row.task, row.probe))
  wanted = {(t, p) for t in tasks for p in probes}
  return {key for key, got in have.items() if wanted <= got}


def load_tasks(config, channels: int | None = None) -> dict:
  """Each downstream task's (train images, labels, test images, labels), subsampled with a fixed seed,
  in the model's input `channels` (default: the pre-training source's), keyed by task name.

  A task is an embedded one, or any prepared TFDS dataset: `NAME@DATA_DIR`, else looked up in
  `data.data_dir` (where the pre-training data is), else in TFDS's default folder."""
  channels = channels or build_source(config).image_shape[-1]
  out = {}
  for task in config.probe.tasks:
    log.info("downstream task %s (built on first use; the first glyph task also builds the design index)", task)
    name, data_dir = split_location(task)
    if data_dir is None and name not in downstream.TASKS and not name.startswith("glyphs"):
      data_dir = config.data.data_dir or None
    splits = []
    for split, limit in (("train", config.probe.max_train), (config.probe.test_split, config.probe.max_test)):
      source = get_source(name, split=split, resolution=config.data.resolution, data_dir=data_dir,
                          channels=channels)
      indices = np.arange(len(source))
      if limit and len(indices) > limit:
        indices = np.sort(np.random.default_rng([config.probe.seed, len(out)]).choice(indices, limit, replace=False))
      images, labels = source.read_batch(indices)
      if (labels < 0).any():
        raise ValueError(f"task {task}: split {source.split!r} has unlabelled examples (label -1, like imagenet2012's "
                         "test split); probe on a labelled one, e.g. --config.probe.test_split=validation")
      splits.extend((to_channels(images, channels), labels))  # the glyph pools are grey whatever is asked
    out[name] = tuple(splits)
  return out


def stacked_feature_fn(model, strategy: str):
  """(stacked variables, (B, H, W, C)) -> (R, B, D): every run of a stack on one batch, mapped or vmapped
  like training."""
  def features(variables, x):
    return multi.over_runs(lambda v: model.apply(v, x, features_only=True), strategy)(variables)
  return features


def _probe_results(config, train_f, train_y, test_f, test_y) -> dict:
  """{probe kind: one ProbeResult per run} for stacked features (R, B, D)."""
  results = {}
  if "ridge" in config.probe.kinds:
    results["ridge"] = ridge_probe_runs(train_f, train_y, test_f, test_y, seed=config.probe.seed)
  if "logistic" in config.probe.kinds:
    results["logistic"] = [logistic_probe(train_f[r], train_y, test_f[r], test_y, seed=config.probe.seed)
                           for r in range(train_f.shape[0])]
  return results


def probe_stack(config, model, state, specs, summary, tasks: dict, strategy: str, stage: str) -> list[ResultRow]:
  variables = {"params": state.params, "batch_stats": state.batch_stats}
  feature_fn = stacked_feature_fn(model, strategy)
  rows = []
  for task, (train_x, train_y, test_x, test_y) in tasks.items():
    start = time.perf_counter()
    train_f = extract_features(feature_fn, variables, train_x, batch_size=config.probe.batch_size, stacked_runs=True)
    test_f = extract_features(feature_fn, variables, test_x, batch_size=config.probe.batch_size, stacked_runs=True)
    for probe, per_run in _probe_results(config, train_f, train_y, test_f, test_y).items():
      for spec, run, result in zip(specs, summary["runs"], per_run):
        rows.append(ResultRow(
            task=task, N=spec.num_classes * spec.per_class, K=spec.num_classes, n=spec.per_class, seed=spec.seed,
            mode=spec.mode, stage=stage, probe=probe, error=1.0 - float(result.test_accuracy),
            steps=summary.get("steps"), val_accuracy=float(result.val_accuracy), l2=float(result.l2),
            train_accuracy=run.get("train_accuracy"), train_loss=run.get("train_loss"),
            features=int(train_f.shape[-1]), probe_seconds=round(time.perf_counter() - start, 2)))
  return rows


def baseline_rows(config, source, tasks: dict) -> list[ResultRow]:
  """The floors every table is read against: chance (always guess the test set's most common class) and
  the ridge probe on a randomly initialised network of the study's architecture (seed of the config)."""
  rows = []
  for task, (_, _, _, test_y) in tasks.items():
    majority = np.bincount(test_y).max() / len(test_y)
    for probe in config.probe.kinds:
      rows.append(ResultRow(task=task, N=0, K=0, n=0, seed=config.seed, error=1.0 - float(majority), probe=probe,
                            mode="chance", stage="baseline", steps=0))
  model = build_model(config, 2)
  state = create_state(model, make_optimizer(config.train, 1), jax.random.key(config.seed), source.image_shape)
  stacked = jax.tree.map(lambda x: x[None], state)
  spec = multi.RunSpec(0, 0, config.seed, "random_init")
  summary = {"steps": 0, "runs": [{"train_accuracy": None, "train_loss": None}]}
  return rows + probe_stack(config, model, stacked, [spec], summary, tasks, "vmap", "baseline")


def run_sweep(config, workdir: str, specs: list[multi.RunSpec] | None = None, stage: str = "sweep",
              tasks: dict | None = None, steps_scale: float = 1.0) -> list[ResultRow]:
  """Train and probe `specs` (default: the config's grid) into `workdir`; returns all rows of the table.
  `steps_scale` multiplies every run's step budget (the convergence gate's 2x)."""
  io.makedirs(workdir)
  check_workdir_config(workdir, config, write=True)
  source = build_source(config)
  if specs is None:
    specs = grid.design(config.sweep, source.num_classes, _per_class_capacity(source))
  done = finished_runs(workdir, config.probe.tasks, config.probe.kinds)
  todo = [s for s in specs if _run_key(s, stage) not in done]
  log.info("%s: %d runs, %d finished, %d to do", stage, len(specs), len(specs) - len(todo), len(todo))
  if not todo:
    return read_rows(workdir)
  tasks = tasks if tasks is not None else load_tasks(config)
  strategy = multi.resolve_strategy(config)
  chunks = plan_stacks(config, source, todo, strategy)
  from tqdm.auto import tqdm
  with tqdm(total=len(specs), initial=len(specs) - len(todo), desc=f"{stage} runs", unit="run",
            disable=not config.progress) as runs_bar:
    for total, chunk in chunks:
      chunk_dir = os.path.join(workdir, "runs", f"{stage}_N{total}_{multi.chunk_name(chunk)}")
      summary, state, model = train_stack(config, source, chunk, chunk_dir, strategy, steps_scale)
      append_rows(workdir, probe_stack(config, model, state, chunk, summary, tasks, strategy, stage))
      runs_bar.update(len(chunk))
  return read_rows(workdir)


def run_baselines(config, workdir: str, tasks: dict | None = None) -> list[ResultRow]:
  """Append the chance and random-init rows once; a rerun finds them and does nothing."""
  if any(r.stage == "baseline" for r in read_rows(workdir)):
    return read_rows(workdir)
  tasks = tasks if tasks is not None else load_tasks(config)
  append_rows(workdir, baseline_rows(config, build_source(config), tasks))
  return read_rows(workdir)


def _per_class_capacity(source) -> int:
  return int(np.bincount(source.labels).min())


def probe_workdir(workdir: str, tasks: list[str] | None = None, kinds: list[str] | None = None) -> list[dict]:
  """Probe a finished `jaxdiv pretrain` workdir (one run or a stack) on downstream tasks; writes probe.jsonl."""
  import ml_collections

  from jaxdiv.train import checkpoint
  from jaxdiv.train.config import base_config
  from jaxdiv.train.state import total_steps
  path = os.path.join(workdir, "config.json")
  if not io.exists(path):
    raise FileNotFoundError(f"{path} not found: is {workdir} a `jaxdiv pretrain` workdir?")
  config = base_config()
  config.update(ml_collections.ConfigDict(io.read_json(path)))
  if tasks:
    config.probe.tasks = list(tasks)
  if kinds:
    config.probe.kinds = list(kinds)
  source = build_source(config)
  task_data = load_tasks(config)
  strategy = multi.resolve_strategy(config)
  rows = []
  if config.runs:
    specs = multi.run_specs(config)
    chunks = io.read_json(os.path.join(workdir, "summary.json"))["chunks"]
    for chunk_dir in chunks:
      chunk = [multi.RunSpec(**r) for r in io.read_json(os.path.join(chunk_dir, "runs.json"))]
      summary, state, model = train_stack(config, source, chunk, chunk_dir, strategy)
      rows += probe_stack(config, model, state, chunk, summary, task_data, strategy, "probe")
  else:
    specs = [multi.RunSpec(config.data.num_classes, config.data.per_class, config.seed)]
    model = build_model(config, config.data.num_classes)
    steps = total_steps(config.train, config.data.num_classes * config.data.per_class)
    target = create_state(model, make_optimizer(config.train, steps), jax.random.key(0), source.image_shape)
    state = checkpoint.restore_workdir(workdir, target, config.keep_checkpoints)
    if state is None:
      raise FileNotFoundError(f"{workdir} has no checkpoint yet: run `jaxdiv pretrain` into it first")
    stacked = jax.tree.map(lambda x: x[None], state)
    summary = io.read_json(os.path.join(workdir, "summary.json"))
    rows = probe_stack(config, model, stacked, specs, summary, task_data, "vmap", "probe")
  if distributed.is_writer():
    io.write_json_atomic(os.path.join(workdir, "probe.json"), [r.to_dict() for r in rows])
  return rows
