"""Frozen features of a backbone on a dataset: batched, jitted, sharded over the data axis."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxdiv.data.pipeline import normalise


def extract_features(feature_fn: Callable[[jax.Array], jax.Array], images: np.ndarray, *, batch_size: int = 512,
                     mesh: jax.sharding.Mesh | None = None, data_axis: str = "data", stacked_runs: bool = False
                     ) -> np.ndarray:
  """`feature_fn(normalised_images) -> (B, ...)` over all `images` (uint8, N×H×W×C), in fixed-size batches.

  The last batch is zero-padded to the batch size so only one program is compiled. With `mesh`, each
  batch is split over `data_axis`. With `stacked_runs`, `feature_fn` returns (R, B, D) for R stacked
  runs, so one pass over the data serves every run.
  """
  count = len(images)
  if mesh is not None:
    batch_size = -(-batch_size // mesh.shape[data_axis]) * mesh.shape[data_axis]
    sharding = jax.NamedSharding(mesh, jax.P(data_axis))
  fn = jax.jit(lambda x: feature_fn(normalise(x)))
  axis = 1 if stacked_runs else 0
  outputs = []
  for start in range(0, count, batch_size):
    batch = images[start:start + batch_size]
    valid = len(batch)
    if valid < batch_size:
      batch = np.concatenate([batch, np.zeros((batch_size - valid, *batch.shape[1:]), batch.dtype)])
    batch = jax.device_put(batch, sharding) if mesh is not None else jnp.asarray(batch)
    outputs.append(np.take(np.asarray(fn(batch)), np.arange(valid), axis=axis))
  return np.concatenate(outputs, axis=axis)
