"""The stroke pool: SVG paths parsed as KanjiVG writes them, deterministic samples, the spread dial, and
classes kept apart from the downstream tasks'."""

import numpy as np
import pytest

from jaxdiv.data import glyphs, strokes
from jaxdiv.data.sources import get_source


def test_parse_path_absolute_relative_and_smooth_segments():
  segments = strokes.parse_path("M10,20c1,0,2,1,3,3s4,1,5,0L30,30h2v-4z")
  np.testing.assert_allclose(segments[0], [[10, 20], [11, 20], [12, 21], [13, 23]])
  # "s": the first control point mirrors the previous segment's second one about the current point
  np.testing.assert_allclose(segments[1], [[13, 23], [14, 25], [17, 24], [18, 23]])
  np.testing.assert_allclose(segments[2][[0, 3]], [[18, 23], [30, 30]])  # a line as a straight cubic
  np.testing.assert_allclose(segments[3][3], [32, 30])
  np.testing.assert_allclose(segments[4][3], [32, 26])
  np.testing.assert_allclose(segments[5][3], [10, 20])  # z closes back to the start
  with pytest.raises(ValueError, match="unsupported SVG path command"):
    strokes.parse_path("M0,0A1,1,0,0,1,2,2")


def test_pool_classes_samples_and_spread():
  pool = get_source("strokes", resolution=20)
  heldout = get_source("strokes_heldout", resolution=20)
  assert pool.num_classes >= 4096
  assert set(pool.codepoints).isdisjoint(heldout.codepoints)
  assert all(glyphs.is_heldout(int(c), 10) for c in heldout.codepoints)  # the glyph pool's held-out tenth
  assert min(pool.codepoints) >= 0x3040  # no Latin letters or digits
  first, labels = pool.read_batch([0, 1, pool.samples_per_class])
  again, _ = get_source("strokes", resolution=20).read_batch([0, 1, pool.samples_per_class])
  np.testing.assert_array_equal(first, again)
  assert first.shape == (3, 20, 20, 1) and list(labels) == [0, 0, 1]
  assert not np.array_equal(first[0], first[1])
  plain = get_source("strokes", resolution=20, spread=0.0).read_batch(np.arange(4))[0]
  assert all(np.array_equal(plain[0], image) for image in plain[1:])  # spread 0: the character as drawn
  spread_of = lambda s: np.std(get_source("strokes", resolution=20, spread=s).read_batch(np.arange(16))[0]
                               .astype(float), axis=0).mean()
  assert spread_of(2.0) > spread_of(0.5)
  with pytest.raises(ValueError, match="data.spread=-1"):
    get_source("strokes", spread=-1.0)
