"""Probing trained runs: the downstream tasks in the model's channels, frozen features of every run of a
stack in one pass, ridge / logistic probes, one results row per (task, probe, run); `jaxdiv probe`."""

from __future__ import annotations

import functools
import logging
import os
import time

import jax
import numpy as np

from jaxdiv import distributed, io
from jaxdiv.data import build_source, downstream, get_source
from jaxdiv.data.sources import is_pool, split_location, to_channels
from jaxdiv.probe.features import extract_features
from jaxdiv.probe.logistic import logistic_probe
from jaxdiv.probe.ridge import ridge_probe_runs
from jaxdiv.results import ResultRow, test_sampling_sd
from jaxdiv.train import multi
from jaxdiv.train.checkpoint import load_run
from jaxdiv.train.config import load_workdir_config
from jaxdiv.train.multi import TrainedStack

log = logging.getLogger("jaxdiv")


def load_tasks(config, channels: int | None = None) -> dict:
  """Each downstream task's (train images, labels, test images, labels), subsampled with a fixed seed,
  in the model's input `channels` (default: the pre-training source's), keyed by task name.

  A task is an embedded one, or any prepared TFDS dataset: `NAME@DATA_DIR`, else looked up in
  `data.data_dir` (where the pre-training data is), else in TFDS's default folder."""
  channels = channels or build_source(config).image_shape[-1]
  out = {}
  log.info("downstream tasks: %s (each built on first use, the glyph tasks after the design index)",
           ", ".join(config.probe.tasks))
  embedded = [name for name, where in map(split_location, config.probe.tasks) if where is None]
  downstream.prepare_many(embedded, config.data.resolution)
  for task in config.probe.tasks:
    name = split_location(task)[0]
    splits = []
    for split, limit in (("train", config.probe.max_train), (config.probe.test_split, config.probe.max_test)):
      source = _task_source(config, task, split, channels)
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


def _task_source(config, task: str, split: str, channels: int):
  """A downstream task's split: an embedded task, `NAME@DATA_DIR`, else `data.data_dir`, else TFDS's folder."""
  name, data_dir = split_location(task)
  if data_dir is None and name not in downstream.TASKS and not is_pool(name):
    data_dir = config.data.data_dir or None
  return get_source(name, split=split, resolution=config.data.resolution, data_dir=data_dir, channels=channels)


def test_examples(config) -> dict[str, int]:
  """{task: test images its probe is scored on} as `load_tasks` subsamples them, without reading images:
  for rows written before they recorded `test_sd`."""
  return {split_location(task)[0]: min(len(source), config.probe.max_test or len(source))
          for task in config.probe.tasks
          for source in [_task_source(config, task, config.probe.test_split, 1)]}


@functools.lru_cache(maxsize=16)
def stacked_feature_fn(model, strategy: str, mesh=None, features_only: bool = True):
  """(stacked variables, (B, H, W, C)) -> (R, B, D): every run of a stack on one batch, mapped or vmapped
  like training, and on the stack's `mesh` each device computing its own runs (a CPU wave uses every
  core). Cached per (model, strategy, mesh), so stacks of one shape share one compiled program. D is the
  feature width, or with `features_only=False` the (padded) head's logits."""
  def features(variables, x):
    return multi.over_runs(lambda v: model.apply(v, x, features_only=features_only), strategy)(variables)
  if mesh is None:
    return features
  return multi.shard_over_runs(features, strategy, mesh, (jax.P("runs"), jax.P()), jax.P("runs"))


def stack_mesh(trained: TrainedStack):
  """The mesh a stack's state is laid out on (its `runs` axis), or None for host or single-device arrays."""
  sharding = getattr(jax.tree.leaves(trained.state.params)[0], "sharding", None)
  return sharding.mesh if isinstance(sharding, jax.sharding.NamedSharding) else None


def probe_results(probe_config, train_f, train_y, test_f, test_y) -> dict:
  """{probe kind: one ProbeResult per run} for stacked features (R, B, D)."""
  results = {}
  if "ridge" in probe_config.kinds:
    results["ridge"] = ridge_probe_runs(train_f, train_y, test_f, test_y, seed=probe_config.seed)
  if "logistic" in probe_config.kinds:
    results["logistic"] = [logistic_probe(train_f[r], train_y, test_f[r], test_y, seed=probe_config.seed)
                           for r in range(train_f.shape[0])]
  return results


# What a contrast run's summary says of its labels (`pretrain.cluster_agreement`), copied into its rows.
AGREEMENT_FIELDS = ("cluster_features", "cluster_sample_classes", "cluster_nmi", "cluster_nmi_chance", "space_nmi",
                    "space_nmi_chance")


def probe_stack(probe_config, trained: TrainedStack, tasks: dict, strategy: str, stage: str,
                heldout: list | None = None) -> list[ResultRow]:
  """One row per (task, probe kind, run) of a trained stack, each with the run's pre-training held-out error
  and loss when `heldout` (`heldout.pretrain_heldout`) has them. On a pod every host computes the features
  (the runs are spread over them); process 0 alone probes and returns rows."""
  heldout = heldout or [None] * len(trained.specs)
  feature_fn = stacked_feature_fn(trained.model, strategy, stack_mesh(trained))
  summary, rows = trained.summary, []
  for task, (train_x, train_y, test_x, test_y) in tasks.items():
    start = time.perf_counter()
    train_f, test_f = (extract_features(feature_fn, trained.variables(), x, batch_size=probe_config.batch_size,
                                        stacked_runs=True) for x in (train_x, test_x))
    if not distributed.is_writer():
      continue
    for probe, per_run in probe_results(probe_config, train_f, train_y, test_f, test_y).items():
      for spec, run, result, held in zip(trained.specs, summary["runs"], per_run, heldout):
        rows.append(ResultRow(
            task=task, N=spec.num_classes * spec.per_class, K=spec.num_classes, n=spec.per_class, seed=spec.seed,
            mode=spec.mode, stage=stage, probe=probe, error=1.0 - float(result.test_accuracy),
            steps=summary.get("steps"), val_accuracy=float(result.val_accuracy), l2=float(result.l2),
            train_accuracy=run.get("train_accuracy"), train_loss=run.get("train_loss"),
            features=int(train_f.shape[-1]), probe_seconds=round(time.perf_counter() - start, 2),
            test_sd=test_sampling_sd(1.0 - float(result.test_accuracy), len(test_y)),
            imbalance=float(spec.imbalance), K_eff=run.get("effective_classes") or (
                float(spec.num_classes) if spec.mode == "class" and not spec.imbalance else None),
            pretrain_heldout_error=held["error"] if held else None,
            pretrain_heldout_loss=held["loss"] if held else None,
            **{name: run.get(name) for name in AGREEMENT_FIELDS}))
  return rows


def probe_workdir(workdir: str, tasks: list[str] | None = None, kinds: list[str] | None = None) -> list[ResultRow]:
  """Probe a finished `jaxdiv pretrain` workdir (one run or stacks) on downstream tasks; writes probe.json.
  The runs are restored with `load_run`: no image pool is read and nothing is trained."""
  config = load_workdir_config(workdir)
  if tasks:
    config.probe.tasks = list(tasks)
  if kinds:
    config.probe.kinds = list(kinds)
  stacks = load_run(workdir)
  task_data = load_tasks(config, stacks[0].summary["image_shape"][-1])  # the model's channels, not the source's
  strategy = multi.resolve_strategy(config)
  rows = [row for trained in stacks for row in probe_stack(config.probe, trained, task_data, strategy, "probe")]
  if distributed.is_writer():
    io.write_json_atomic(os.path.join(workdir, "probe.json"), [r.to_dict() for r in rows])
  return rows
