import numpy as np
import pytest

from jaxdiv.data import fonts, glyphs, render


def test_pool_samples_have_ink_and_are_deterministic(small_pool):
  pool = small_pool
  assert pool.num_classes >= 20
  a = pool.render(3, 7)
  assert a.shape == (32, 32, 1) and a.dtype == np.uint8
  assert (a > 128).sum() > 20  # real ink
  np.testing.assert_array_equal(a, pool.render(3, 7))
  assert not np.array_equal(a, pool.render(3, 8))
  other_seed = glyphs.GlyphPool(glyphs.GlyphPoolConfig(codepoint_range=pool.config.codepoint_range, seed=1,
                                                       samples_per_class=50))
  assert not np.array_equal(a, other_seed.render(3, 7))


def test_pool_labels_and_batched_reads(small_pool):
  pool = small_pool
  assert len(pool.labels) == len(pool) == pool.num_classes * 50
  images, labels = pool.read_batch([0, 51, 120])
  np.testing.assert_array_equal(labels, [0, 1, 2])
  np.testing.assert_array_equal(images[1], pool[51]["image"])


def test_every_class_has_enough_distinct_designs(small_pool):
  assert min(len(d) for d in small_pool.designs) >= 16


def test_heldout_classes_are_disjoint_from_pool(small_pool):
  held = glyphs.GlyphPool(small_pool.config, heldout=True)
  assert held.num_classes >= 1
  assert not set(held.codepoints.tolist()) & set(small_pool.codepoints.tolist())


def test_duplicate_font_files_count_as_one_design():
  faces = fonts.find_faces(["**/DroidSansFallback*.ttf"], ["fonts-droid-fallback"])
  assert len(faces) == 2  # DroidSansFallback and DroidSansFallbackFull: one design
  assert len(fonts.distinct_designs(faces, "永")) == 1
  noto = fonts.find_faces(["**/NotoSansCJK-Regular.ttc", "**/NotoSerifCJK-Regular.ttc"], ["fonts-noto-cjk"])
  assert len(fonts.distinct_designs(noto, "永")) >= 2  # sans and serif differ


def test_missing_fonts_error_names_the_install_line(tmp_path):
  with pytest.raises(fonts.MissingFontsError, match="apt-get install"):
    fonts.find_faces(["**/nothing-here-*.ttf"], ["fonts-noto-cjk"], roots=[str(tmp_path)])


def test_plain_render_is_centred():
  face = fonts.find_faces(["**/NotoSansCJK-Regular.ttc"], ["fonts-noto-cjk"])[0]
  image = render.render_sample(face, "口", 32, np.random.default_rng(0), render.Augment.none()).astype(float)
  rows, cols = np.nonzero(image > 128)
  assert abs(rows.mean() - 15.5) < 2 and abs(cols.mean() - 15.5) < 2


def test_the_shipped_design_index_is_used_only_where_it_matches_these_fonts(tmp_path):
  """A matching shipped index is taken as is; one built for other faces, or whose designs a spot check
  re-renders differently, is refused (the index is then built from the fonts)."""
  faces = fonts.find_faces(fonts.PRETRAIN_PATTERNS, fonts.PRETRAIN_PACKAGES)[:3]
  codes = list(range(0x4E00, 0x4E00 + 12))
  index = fonts.build_design_index(faces, codes, workers=1)
  path = str(tmp_path / "index.json.gz")
  fonts.write_shipped_design_index(faces, codes, index, path)
  assert fonts.shipped_design_index(faces, codes, path) == index
  assert fonts.shipped_design_index(faces[:2], codes, path) is None  # built for other faces
  tampered = {**index, codes[0]: [0, 1, 2] if index[codes[0]] != [0, 1, 2] else [0]}
  fonts.write_shipped_design_index(faces, codes, tampered, path)
  assert fonts.shipped_design_index(faces, codes, path) is None  # the spot check re-renders every code point here
