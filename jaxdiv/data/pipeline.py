"""Input pipelines for a K×n subset: Grain streaming for large N, in-memory device arrays for small N.

Both are index based and deterministic in their seed. Streaming reads whole batches from the source
(one `read_batch` call per batch, never one Python read per record) and keeps a checkpointable
iterator state. In-memory materialises the subset once (cached on disk), and then batching and
augmentation are pure jittable functions of (key, step), so they also run inside `jax.vmap` over runs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os

import grain
import jax
import jax.numpy as jnp
import numpy as np

from jaxdiv import io
from jaxdiv.data import sampler


def epoch_permutation(num_examples: int, seed: int, epoch: int) -> np.ndarray:
  return np.random.default_rng([seed, epoch]).permutation(num_examples)


class _BatchReader:
  """Maps a global step to this host's slice of the step's batch, read in one call.

  With `random_crop`, example j of step s is a random-resized crop and flip drawn from the generator
  seeded (seed, s, j): a pure function of the step, whichever process or worker reads it, so a resumed
  iterator replays the same crops."""

  def __init__(self, source, indices, labels, global_batch: int, seed: int, shard_index: int,
               shard_count: int, random_crop: bool = False, flip: bool = False):
    self.source, self.indices, self.labels = source, np.asarray(indices), np.asarray(labels, np.int32)
    self.global_batch, self.seed, self.random_crop, self.flip = global_batch, seed, random_crop, flip
    self.local_batch = global_batch // shard_count
    self.shard_index = shard_index
    self.steps_per_epoch = len(self.indices) // global_batch
    self._cached = (-1, None)  # (epoch, its permutation); picklable for Grain worker processes

  def _permutation(self, epoch: int) -> np.ndarray:
    if self._cached[0] != epoch:
      self._cached = (epoch, epoch_permutation(len(self.indices), self.seed, epoch))
    return self._cached[1]

  def __call__(self, step: int) -> dict[str, np.ndarray]:
    epoch, offset = divmod(int(step), self.steps_per_epoch)
    start = offset * self.global_batch + self.shard_index * self.local_batch
    positions = self._permutation(epoch)[start:start + self.local_batch]
    if self.random_crop:
      rngs = [np.random.default_rng([self.seed, int(step), self.shard_index * self.local_batch + j])
              for j in range(len(positions))]
      images, _ = self.source.read_batch(self.indices[positions], crop_rngs=rngs, flip=self.flip)
    else:
      images, _ = self.source.read_batch(self.indices[positions])
    return {"image": images, "label": self.labels[positions]}


def streaming_dataset(source, indices, labels, *, global_batch: int, num_steps: int, seed: int,
                      shard_options: grain.sharding.ShardOptions | None = None,
                      prefetch_threads: int = 0, workers: int = 0, random_crop: bool = False, flip: bool = False
                      ) -> grain.IterDataset:
  """A Grain dataset of `num_steps` batches of this host's share of each global batch.

  Epochs are seeded permutations of the subset; the last partial batch of an epoch is dropped.
  `iter(ds)` gives an iterator with `get_state()`/`set_state()` for checkpointing. `workers` > 0 reads,
  decodes and crops whole batches in that many Grain worker processes (JPEG decoding is CPU-bound and
  holds the GIL; threads do not scale); otherwise `prefetch_threads` threads read ahead in this process.
  """
  shard_options = shard_options or grain.sharding.ShardByJaxProcess(drop_remainder=True)
  if global_batch % shard_options.shard_count:
    raise ValueError(f"global batch {global_batch} must divide evenly over {shard_options.shard_count} hosts")
  if len(indices) < global_batch:
    raise ValueError(f"the subset has {len(indices)} examples, fewer than one batch of {global_batch}; "
                     "lower the batch size")
  reader = _BatchReader(source, indices, labels, global_batch, seed, shard_options.shard_index,
                        shard_options.shard_count, random_crop, flip)
  # Grain's default ReadOptions prefetch 500 elements in 16 threads; an element here is a whole batch
  # (150 MB at ImageNet's 1024 x 224 px), so the read-ahead is set explicitly.
  threads = 0 if workers else prefetch_threads
  dataset = grain.MapDataset.range(num_steps).map(reader).to_iter_dataset(
      grain.ReadOptions(num_threads=threads, prefetch_buffer_size=4 if threads else 1))
  if workers:
    from absl import flags
    if not flags.FLAGS.is_parsed():  # grain <= 0.2.18 reads an absl flag in mp_prefetch (google/grain#1355)
      flags.FLAGS.mark_as_parsed()
    return dataset.mp_prefetch(grain.multiprocessing.MultiprocessingOptions(num_workers=workers,
                                                                            per_worker_buffer_size=2))
  return dataset


def to_global_array(local_batch: np.ndarray, sharding: jax.sharding.Sharding) -> jax.Array:
  """Assemble hosts' local batches into one global array laid out by `sharding`."""
  return jax.make_array_from_process_local_data(sharding, local_batch)


# --- In-memory path -------------------------------------------------------------------------------


def _materialise_key(source, indices) -> str:
  digest = hashlib.sha256(source.fingerprint().encode())
  digest.update(np.asarray(indices, np.int64).tobytes())
  return digest.hexdigest()[:20]


def _read_chunk(args):
  source, chunk = args
  return source.read_batch(chunk)[0]


def materialise(source, indices, *, cache_dir: str | None = None, chunk: int = 1024, workers: int = 1
                ) -> np.ndarray:
  """The images of `indices` as one uint8 array, read in batches and cached on disk by content."""
  indices = np.asarray(indices, np.int64)
  path = None
  if cache_dir != "":
    path = os.path.join(cache_dir or os.path.join(io.default_cache_dir(), "subsets"),
                        f"{_materialise_key(source, indices)}.npy")
    if os.path.exists(path):
      return np.load(path)
  chunks = [indices[i:i + chunk] for i in range(0, len(indices), chunk)]
  if workers > 1 and len(chunks) > 1:
    parts = io.fork_map(_read_chunk, [(source, c) for c in chunks], workers)
  else:
    parts = [_read_chunk((source, c)) for c in chunks]
  images = np.concatenate(parts) if parts else np.zeros((0, *source.image_shape), np.uint8)
  if path:
    io.save_npy_atomic(path, images)
  return images


@dataclasses.dataclass(frozen=True)
class Subset:
  """A drawn K×n subset: source indices, contiguous labels 0..K-1, and its shape (n the mean class size
  when `imbalance` > 0)."""
  indices: np.ndarray
  labels: np.ndarray
  num_classes: int
  per_class: int
  imbalance: float = 0.0

  @property
  def effective_classes(self) -> float:
    return sampler.effective_classes(np.bincount(self.labels))


def draw_subset(source, num_classes: int, per_class: int, seed: int, nested: bool = True,
                imbalance: float = 0.0) -> Subset:
  """K classes × n samples, or with `imbalance` s > 0 the same N = K·n in power-law class sizes."""
  if imbalance:
    if not nested:
      raise ValueError("imbalanced subsets are always nested; use nested=True with imbalance > 0")
    indices = sampler.imbalanced_subset_indices(source.labels, num_classes, num_classes * per_class, imbalance, seed)
  else:
    indices = sampler.subset_indices(source.labels, num_classes, per_class, seed, nested)
  labels, k = sampler.relabel(source.labels, indices)
  return Subset(indices, labels, k, per_class, float(imbalance))


def batch_positions(key: jax.Array, num_examples: int, batch_size: int, step) -> jax.Array:
  """Positions of step `step`'s batch: epoch-wise permutations from `key`, last partial batch dropped."""
  steps_per_epoch = num_examples // batch_size
  epoch, offset = jnp.divmod(step, steps_per_epoch)
  permutation = jax.random.permutation(jax.random.fold_in(key, epoch), num_examples)
  return jax.lax.dynamic_slice_in_dim(permutation, offset * batch_size, batch_size)


def random_translate(key: jax.Array, images: jax.Array, max_shift: int) -> jax.Array:
  """Shift each image by up to `max_shift` pixels (zero padding), independently per example."""
  if max_shift == 0:
    return images
  batch, height, width, _ = images.shape
  padded = jnp.pad(images, ((0, 0), (max_shift, max_shift), (max_shift, max_shift), (0, 0)))
  offsets = jax.random.randint(key, (batch, 2), 0, 2 * max_shift + 1)

  def crop(image, offset):
    return jax.lax.dynamic_slice(image, (offset[0], offset[1], 0), (height, width, image.shape[-1]))

  return jax.vmap(crop)(padded, offsets)


def random_flip(key: jax.Array, images: jax.Array) -> jax.Array:
  flip = jax.random.bernoulli(key, 0.5, (images.shape[0], 1, 1, 1))
  return jnp.where(flip, images[:, :, ::-1], images)


def normalise(images: jax.Array, dtype=jnp.float32) -> jax.Array:
  """uint8 [0, 255] -> roughly zero-mean unit-scale floats."""
  return (images.astype(dtype) / 255.0 - 0.5) / 0.25


def augment_batch(key: jax.Array, images: jax.Array, max_shift: int, flip: bool) -> jax.Array:
  shift_key, flip_key = jax.random.split(key)
  images = random_translate(shift_key, images, max_shift)
  return random_flip(flip_key, images) if flip else images
