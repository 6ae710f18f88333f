"""The paper's contrast sampler (N samples labelled by k-means cluster id) and its k-means in JAX
(k-means++ seeding, jitted Lloyd iterations)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxdiv.data.pipeline import Subset


def _sq_dist(x, centres):
  return jnp.maximum((x * x).sum(1)[:, None] - 2 * x @ centres.T + (centres * centres).sum(1)[None], 0.0)


@functools.partial(jax.jit, static_argnames="k")
def kmeans_plus_plus(key, x, k: int):
  """D²-weighted seeding (Arthur & Vassilvitskii 2007)."""
  first_key, rest_key = jax.random.split(key)
  centres = jnp.zeros((k, x.shape[1]), x.dtype).at[0].set(x[jax.random.randint(first_key, (), 0, len(x))])
  closest = _sq_dist(x, centres[:1])[:, 0]

  def body(i, carry):
    centres, closest = carry
    pick = jax.random.categorical(jax.random.fold_in(rest_key, i), jnp.log(closest + 1e-30))
    centres = centres.at[i].set(x[pick])
    return centres, jnp.minimum(closest, _sq_dist(x, x[pick][None])[:, 0])

  centres, _ = jax.lax.fori_loop(1, k, body, (centres, closest))
  return centres


@functools.partial(jax.jit, static_argnames="iters")
def lloyd(x, centres, iters: int = 100):
  """Lloyd iterations; an emptied cluster keeps its previous centre."""
  def body(_, centres):
    assign = _sq_dist(x, centres).argmin(1)
    one_hot = jax.nn.one_hot(assign, centres.shape[0], dtype=x.dtype)
    counts = one_hot.sum(0)
    sums = one_hot.T @ x
    return jnp.where(counts[:, None] > 0, sums / jnp.maximum(counts, 1)[:, None], centres)

  centres = jax.lax.fori_loop(0, iters, body, centres)
  distances = _sq_dist(x, centres)
  return centres, distances.argmin(1), distances.min(1).sum()


def kmeans(x, k: int, seed: int = 0, restarts: int = 4, iters: int = 100):
  """Best of `restarts` k-means++ + Lloyd runs: (centres, labels, inertia)."""
  x = jnp.asarray(x, jnp.float32)
  if k > len(x):
    raise ValueError(f"cannot make {k} clusters from {len(x)} points")
  best = None
  for r in range(restarts):
    centres, labels, inertia = lloyd(x, kmeans_plus_plus(jax.random.key(seed * 1000 + r), x, k), iters)
    if best is None or float(inertia) < float(best[2]):
      best = (centres, labels, inertia)
  return np.asarray(best[0]), np.asarray(best[1]), float(best[2])


def clustered_subset(source, total: int, num_clusters: int, seed: int) -> Subset:
  """The contrast case: N samples drawn once (independent of K), labelled by the k-means cluster id of
  their raw pixels. Returns a `Subset` whose labels are cluster ids 0..K-1."""
  if total > len(source):
    raise ValueError(f"asked for N={total} samples but the source holds {len(source)}")
  indices = np.sort(np.random.default_rng([seed, 7]).choice(len(source), total, replace=False))
  images, _ = source.read_batch(indices)
  features = images.reshape(len(images), -1).astype(np.float32) / 255.0
  _, labels, _ = kmeans(features, num_clusters, seed)
  _, labels = np.unique(labels, return_inverse=True)  # contiguous ids even if a cluster emptied
  return Subset(indices, labels.astype(np.int32), int(labels.max()) + 1, total // num_clusters)
