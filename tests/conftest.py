import os

# Eight simulated CPU devices for the sharding tests; single-device code runs on the first one.
if "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
  os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8").strip()

# One persistent compilation cache per machine for tests: the trainer tests compile the same tiny
# ResNet in several processes, which otherwise dominates their time.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", os.path.join(os.path.expanduser("~"), ".cache", "jaxdiv-test-xla"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")

import pytest  # noqa: E402

# Tests keep their caches (design index, prepared TFDS tasks, materialised subsets) in one temporary
# folder per session, so they never read state left by an earlier run.


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory):
  root = tmp_path_factory.mktemp("jaxdiv_cache")
  old = {k: os.environ.get(k) for k in ("JAXDIV_CACHE", "JAXDIV_DATA_DIR")}
  os.environ["JAXDIV_CACHE"] = str(root)
  os.environ["JAXDIV_DATA_DIR"] = str(root / "tfds")
  yield root
  for key, value in old.items():
    if value is None:
      os.environ.pop(key, None)
    else:
      os.environ[key] = value


# A small slice of the Han block keeps the design index quick to build in tests.
SMALL_RANGE = (0x4E00, 0x4FFF)


@pytest.fixture(scope="session")
def small_pool():
  from jaxdiv.data import glyphs
  return glyphs.GlyphPool(glyphs.GlyphPoolConfig(codepoint_range=SMALL_RANGE, samples_per_class=50))


def tiny_train_config(**overrides):
  """A seconds-long glyph-pool config: width-4 ResNet-18 at 16 px on the small code-point range."""
  from jaxdiv.train import apply_overrides, base_config
  config = base_config()
  config.data.glyph_range = f"{SMALL_RANGE[0]:X}-{SMALL_RANGE[1]:X}"
  config.data.resolution = 16
  config.data.num_classes, config.data.per_class = 8, 8
  config.data.materialise_workers = 1
  config.model.width = 4
  config.train.batch_size = 16
  config.train.steps = 12
  config.train.learning_rate = 0.05
  config.checkpoint_every, config.log_every = 4, 2
  config.progress = False
  config.mesh.data = 1
  return apply_overrides(config, [f"{k}={v}" for k, v in overrides.items()])


def restore_run(workdir, config, num_classes=None, stacked=0):
  """The latest checkpointed train state in `workdir` (host arrays): a single run (a stack of one) without
  its runs axis, or a stack of `stacked` runs with it."""
  import jax
  import numpy as np

  from jaxdiv.models import build_model
  from jaxdiv.train.checkpoint import restore_workdir
  from jaxdiv.train.state import create_state, make_optimizer
  model = build_model(config.model, num_classes or config.data.num_classes)
  target = create_state(model, make_optimizer(config.train, config.train.steps), jax.random.key(0),
                        (config.data.resolution, config.data.resolution, 1))
  target = jax.tree.map(lambda x: np.stack([x] * (stacked or 1)), target)
  state = jax.device_get(restore_workdir(workdir, target))
  return state if stacked else jax.tree.map(lambda x: x[0], state)
