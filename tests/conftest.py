import os

import pytest

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
