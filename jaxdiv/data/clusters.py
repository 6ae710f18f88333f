"""The paper's contrast sampler (N samples labelled by k-means cluster id) and its k-means in JAX
(k-means++ seeding, jitted Lloyd iterations)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxdiv.data.pipeline import Subset, draw_subset


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


def normalized_mutual_information(a, b) -> float:
  """NMI of two labellings, I(a; b) / mean(H(a), H(b)) (scikit-learn's default, arithmetic): 1 when one
  determines the other, about 0 when independent. How far cluster labels agree with the true classes."""
  _, a = np.unique(np.asarray(a), return_inverse=True)
  _, b = np.unique(np.asarray(b), return_inverse=True)
  joint = np.zeros((a.max() + 1, b.max() + 1))
  np.add.at(joint, (a, b), 1.0)
  joint /= joint.sum()
  pa, pb = joint.sum(1), joint.sum(0)
  entropy = lambda p: float(-(p[p > 0] * np.log(p[p > 0])).sum())
  nonzero = joint > 0
  mutual = float((joint[nonzero] * np.log(joint[nonzero] / np.outer(pa, pb)[nonzero])).sum())
  mean_entropy = (entropy(pa) + entropy(pb)) / 2
  return 1.0 if mean_entropy == 0 else max(0.0, mutual / mean_entropy)


def pixels(images: np.ndarray) -> np.ndarray:
  """(B, H, W, C) uint8 -> (B, H·W·C) float32 in [0, 1]: the space k-means clusters in by default."""
  return images.reshape(len(images), -1).astype(np.float32) / 255.0


def chance_nmi(labels, true, seed: int, draws: int = 5) -> float:
  """The NMI the same cluster sizes reach by chance: mean over `draws` seeded shuffles of `labels`. NMI
  is biased upward when groups are small: labels of 1,024 images that are nearly all of different classes
  reach 0.9 at K = 512 whatever they are, so an agreement is read against this level."""
  rng = np.random.default_rng([seed, 11])
  return float(np.mean([normalized_mutual_information(rng.permutation(labels), true) for _ in range(draws)]))


def space_agreement(source, featurize, seed: int, classes: int = 64, per_class: int = 16) -> dict:
  """Does a feature space group images by class? k-means with one cluster per class on `classes` classes x
  `per_class` images of the pool (seeded), its NMI with their classes and the chance level of that NMI.
  A contrast sample of N images from thousands of classes holds about one image per class, so its own
  labels cannot show this; this labelled probe can."""
  subset = draw_subset(source, classes, per_class, seed)
  images, _ = source.read_batch(subset.indices)
  features = featurize(images) if featurize else pixels(images)
  _, labels, _ = kmeans(features, classes, seed)
  return {"space_nmi": round(normalized_mutual_information(labels, subset.labels), 4),
          "space_nmi_chance": round(chance_nmi(labels, subset.labels, seed), 4)}


def clustered_subset(source, total: int, num_clusters: int, seed: int, featurize=None,
                     sample_classes: int = 0) -> Subset:
  """The contrast case: N samples drawn once (independent of K), labelled by the k-means cluster id of
  their features: `featurize(uint8 images) -> (N, D)`, raw pixels in [0, 1] by default
  (`jaxdiv.train.embed` has the other spaces). The sample is drawn from the whole pool, or with
  `sample_classes` = C > 0 from C classes, N/C images each: the class-labelled subset of the same seed at
  K = C (as the paper's sample of ImageNet holds N/1000 images of each of its classes), so the clusters can
  agree with classes the sample really holds several images of. Returns a `Subset` whose labels are
  cluster ids 0..K-1."""
  if total > len(source):
    raise ValueError(f"asked for N={total} samples but the source holds {len(source)}")
  if sample_classes:
    if sample_classes < 0 or total % sample_classes:
      raise ValueError(f"cluster.sample_classes={sample_classes} must divide N={total} (N/C images from each of "
                       "C classes); pick a divisor of every contrast budget, or 0 to sample the whole pool")
    indices = np.sort(draw_subset(source, sample_classes, total // sample_classes, seed).indices)
  else:
    indices = np.sort(np.random.default_rng([seed, 7]).choice(len(source), total, replace=False))
  images, _ = source.read_batch(indices)
  features = featurize(images) if featurize else pixels(images)
  _, labels, _ = kmeans(features, num_clusters, seed)
  _, labels = np.unique(labels, return_inverse=True)  # contiguous ids even if a cluster emptied
  return Subset(indices, labels.astype(np.int32), int(labels.max()) + 1, total // num_clusters)
