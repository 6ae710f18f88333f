"""The space the k-means contrast clusters in (`cluster.features`).

The paper's contrast case samples N images and labels them by clustering. Raw pixels of small glyphs group
by stroke weight and position, not by character, so their labels teach little; a feature space in which
neighbours share a class is what the paper's claim is about. Three spaces:

- "pixels": the image itself, in [0, 1] (the default, and the only space before this existed);
- "random_init": a network of the study's architecture, untrained (seed of the config): a control;
- a workdir of a finished `jaxdiv pretrain` run: its network's features, e.g. one pre-trained on the other
  pool or on held-out classes, so it has never seen the classes it groups.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxdiv.data.clusters import pixels
from jaxdiv.data.pipeline import normalise
from jaxdiv.data.sources import to_channels
from jaxdiv.models import build_model
from jaxdiv.train.config import cluster_space
from jaxdiv.train.state import create_state, make_optimizer


def network_features(model, variables: dict, channels: int, batch_size: int = 512) -> Callable:
  """images -> the network's pooled features, in fixed-size batches through one jitted program."""
  forward = jax.jit(lambda v, x: model.apply(v, normalise(x), features_only=True))

  def featurize(images: np.ndarray) -> np.ndarray:
    images = to_channels(images, channels)
    out = []
    for start in range(0, len(images), batch_size):
      batch = images[start:start + batch_size]
      padded = np.concatenate([batch, np.zeros((batch_size - len(batch), *batch.shape[1:]), batch.dtype)])
      out.append(np.asarray(forward(variables, jnp.asarray(padded)))[:len(batch)])
    return np.concatenate(out).astype(np.float32)

  return featurize


def cluster_featurizer(config, image_shape) -> Callable[[np.ndarray], np.ndarray]:
  """The featurizer `config.cluster.features` names, for images of `image_shape` (H, W, C)."""
  space = cluster_space(config)  # checked by `config.validate`
  if space == "pixels":
    return pixels
  if space == "random_init":
    model = build_model(config.model, 2)
    state = create_state(model, make_optimizer(config.train, 1), jax.random.key(config.seed), image_shape)
    return network_features(model, {"params": state.params, "batch_stats": state.batch_stats}, image_shape[-1])
  from jaxdiv.train.checkpoint import load_run
  trained = load_run(space)[0]
  first = jax.tree.map(lambda leaf: np.asarray(leaf)[0], trained.variables())  # run 0 of its stack
  channels = int(trained.summary.get("image_shape", image_shape)[-1])
  return network_features(trained.model, first, channels)
