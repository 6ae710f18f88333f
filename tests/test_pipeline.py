import grain
import jax
import jax.numpy as jnp
import numpy as np

from jaxdiv.data import draw_subset, materialise, pipeline, streaming_dataset


def test_streaming_is_deterministic_and_resumes_identically(small_pool):
  subset = draw_subset(small_pool, 6, 10, seed=0)
  make = lambda: streaming_dataset(small_pool, subset.indices, subset.labels, global_batch=16, num_steps=8,
                                   seed=5)
  full = [b["label"] for b in make()]
  assert len(full) == 8
  np.testing.assert_array_equal(np.concatenate(full), np.concatenate([b["label"] for b in make()]))
  it = iter(make())
  for _ in range(3):
    next(it)
  state = it.get_state()
  rest = [next(it) for _ in range(5)]
  resumed = iter(make())
  resumed.set_state(state)
  for expected in rest:
    got = next(resumed)
    np.testing.assert_array_equal(got["image"], expected["image"])
    np.testing.assert_array_equal(got["label"], expected["label"])


def test_streaming_epochs_cover_subset_once(small_pool):
  subset = draw_subset(small_pool, 4, 8, seed=1)  # 32 examples, 4 steps per epoch of 8
  batches = list(streaming_dataset(small_pool, subset.indices, subset.labels, global_batch=8, num_steps=4,
                                   seed=0))
  labels = np.concatenate([b["label"] for b in batches])
  assert np.bincount(labels).tolist() == [8, 8, 8, 8]


def test_host_shards_partition_the_global_batch(small_pool):
  subset = draw_subset(small_pool, 4, 8, seed=1)
  shards = []
  for index in range(2):
    options = grain.sharding.ShardOptions(shard_index=index, shard_count=2)
    ds = streaming_dataset(small_pool, subset.indices, subset.labels, global_batch=8, num_steps=1, seed=0,
                           shard_options=options)
    shards.append(next(iter(ds))["image"])
  whole = next(iter(streaming_dataset(small_pool, subset.indices, subset.labels, global_batch=8, num_steps=1,
                                      seed=0, shard_options=grain.sharding.NoSharding())))["image"]
  np.testing.assert_array_equal(np.concatenate(shards), whole)


def test_materialise_matches_reads_and_uses_cache(small_pool, tmp_path):
  subset = draw_subset(small_pool, 3, 5, seed=0)
  images = materialise(small_pool, subset.indices, cache_dir=str(tmp_path), chunk=4)
  np.testing.assert_array_equal(images, small_pool.read_batch(subset.indices)[0])
  assert len(list(tmp_path.iterdir())) == 1
  np.testing.assert_array_equal(images, materialise(small_pool, subset.indices, cache_dir=str(tmp_path)))


def test_in_memory_batches_are_jittable_and_cover_each_epoch():
  """The trainer's in-memory batch order (`batch_positions`, a pure function of key and step) and scaling."""
  key = jax.random.key(0)
  step_fn = jax.jit(lambda s: pipeline.batch_positions(key, 20, 5, s))
  epoch = np.concatenate([np.asarray(step_fn(s)) for s in range(4)])
  assert sorted(epoch.tolist()) == list(range(20))
  images = jnp.arange(20, dtype=jnp.uint8).reshape(20, 1, 1, 1) * jnp.ones((20, 4, 4, 1), jnp.uint8)
  x = pipeline.normalise(images[step_fn(0)])
  np.testing.assert_allclose(np.asarray(x)[:, 0, 0, 0], (np.asarray(step_fn(0)) / 255.0 - 0.5) / 0.25, rtol=1e-6)
  assert not np.array_equal(np.concatenate([np.asarray(step_fn(s)) for s in range(4, 8)]), epoch)


def test_random_translate_moves_content_within_bounds():
  image = jnp.zeros((1, 8, 8, 1)).at[0, 4, 4, 0].set(1.0)
  shifted = pipeline.random_translate(jax.random.key(1), jnp.repeat(image, 16, 0), 2)
  positions = np.argwhere(np.asarray(shifted)[..., 0] > 0)
  assert len(positions) == 16 and np.abs(positions[:, 1:] - 4).max() <= 2
