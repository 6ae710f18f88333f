"""Each run's pre-training held-out error: its own task (its K classes, its head) on a few images per class
that its subset does not hold.

The paper's theory rests on pre-training representation error bounding downstream error and leaves checking
it as future work; this is the pre-training side of that check. It runs after training, on the final state,
so training (steps, batches, keys) is exactly what it is without it.
"""

from __future__ import annotations

import numpy as np

from jaxdiv.data import sampler
from jaxdiv.data.pipeline import materialise
from jaxdiv.probe.features import extract_features
from jaxdiv.train import multi


def heldout_sets(source, specs, per_class: int, subset_seed: int = -1) -> list[tuple[np.ndarray, np.ndarray] | None]:
  """Per run: (source indices, run labels) of up to `per_class` unseen images of each of its classes, the
  next ones of each class's seeded order after the subset's own; None for k-means runs, whose labels are
  clusters of one sample and have no unseen images."""
  sets = []
  for spec in specs:
    if spec.mode != "class" or per_class <= 0:
      sets.append(None)
      continue
    subset = multi.draw_run_subset(source, spec, subset_seed)
    seed = spec.seed if subset_seed < 0 else subset_seed
    indices = sampler.heldout_indices(source.labels, subset.indices, per_class, seed)
    to_run_label = dict(zip(np.asarray(source.labels)[subset.indices].tolist(), subset.labels.tolist()))
    labels = np.array([to_run_label[int(c)] for c in np.asarray(source.labels)[indices]], np.int64)
    sets.append((indices, labels))
  return sets


def masked_error_and_loss(logits: np.ndarray, labels: np.ndarray, num_classes: int) -> tuple[float, float]:
  """Top-1 error and mean cross-entropy over the first `num_classes` logits (the padded head's rest is
  masked, as in training), in float64."""
  logits = np.asarray(logits, np.float64)[:, :num_classes]
  shifted = logits - logits.max(axis=1, keepdims=True)
  log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
  loss = -log_probs[np.arange(len(labels)), labels].mean()
  error = (logits.argmax(axis=1) != labels).mean()
  return float(error), float(loss)


def pretrain_heldout(trained: multi.TrainedStack, source, per_class: int, subset_seed: int = -1,
                     strategy: str = "unroll", batch_size: int = 500, chunk: int = 4096) -> list[dict | None]:
  """Per run of a trained stack: {"error", "loss", "examples"} on its held-out set (None where it has none).
  One pass of every run over the union of the runs' held-out images, laid out like feature extraction, read
  `chunk` images at a time (16 per class of ImageNet's 1,000 at 224 px would be 2.4 GB at once)."""
  from jaxdiv.probe.runs import stack_mesh, stacked_feature_fn
  sets = heldout_sets(source, trained.specs, per_class, subset_seed)
  wanted = [s for s in sets if s is not None]
  if not wanted:
    return [None] * len(sets)
  union, inverse = np.unique(np.concatenate([indices for indices, _ in wanted]), return_inverse=True)
  logits_fn = stacked_feature_fn(trained.model, strategy, stack_mesh(trained), features_only=False)
  logits = np.concatenate([extract_features(logits_fn, trained.variables(),
                                            materialise(source, union[start:start + chunk], cache_dir=""),
                                            batch_size=batch_size, stacked_runs=True)
                           for start in range(0, len(union), chunk)], axis=1)
  out, start = [], 0
  for run, held in enumerate(sets):
    if held is None:
      out.append(None)
      continue
    indices, labels = held
    rows = inverse[start:start + len(indices)]
    start += len(indices)
    error, loss = masked_error_and_loss(logits[run, rows], labels, trained.specs[run].num_classes)
    out.append({"error": error, "loss": loss, "examples": int(len(indices))})
  return out
