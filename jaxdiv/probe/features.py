"""Frozen features of a backbone on a dataset: batched and jitted, gathered to every host."""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxdiv import distributed
from jaxdiv.data.pipeline import normalise


@functools.lru_cache(maxsize=16)
def _jitted(feature_fn: Callable):
  """One jitted program per feature function (and shapes): every task, train or test, reuses it."""
  return jax.jit(lambda v, x: feature_fn(v, normalise(x)))


def extract_features(feature_fn: Callable, variables, images: np.ndarray, *, batch_size: int = 512,
                     stacked_runs: bool = False) -> np.ndarray:
  """`feature_fn(variables, normalised_images) -> (B, ...)` over all `images` (uint8, N×H×W×C), in
  fixed-size batches, as NumPy on every process.

  The last batch is zero-padded to the batch size so only one program is compiled. `variables` are an
  argument, not a closure, because on a pod they are global arrays spread over hosts (stacked runs
  sharded over the `runs` axis); the features are gathered from every host before a probe sees them.
  With `stacked_runs`, `feature_fn` returns (R, B, D) for R stacked runs, so one pass serves every run.
  """
  fn = _jitted(feature_fn)
  axis = 1 if stacked_runs else 0
  outputs = []
  for start in range(0, len(images), batch_size):
    batch = images[start:start + batch_size]
    valid = len(batch)
    if valid < batch_size:
      batch = np.concatenate([batch, np.zeros((batch_size - valid, *batch.shape[1:]), batch.dtype)])
    outputs.append(np.take(distributed.host_value(fn(variables, jnp.asarray(batch))), np.arange(valid), axis=axis))
  return np.concatenate(outputs, axis=axis)
