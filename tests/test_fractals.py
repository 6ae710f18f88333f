"""The fractal pool (classes are iterated function systems) and the coverage curve that compares pools."""

import numpy as np
import pytest

from jaxdiv.data import fractals, variety
from jaxdiv.data.sources import get_source


def test_chaos_game_stays_on_a_known_attractor():
  # Sierpinski's triangle: three halvings towards the corners; after burn-in every point lies in the
  # triangle, and a point's barycentric coordinates are never all above 1/4 (the removed middle).
  corners = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, 1.0]])
  A = np.repeat(0.5 * np.eye(2)[None], 3, 0)
  points = fractals.chaos_game(A, 0.5 * corners, np.random.default_rng(0), points=2048)
  T = np.column_stack([corners[1] - corners[0], corners[2] - corners[0]])
  l1, l2 = np.linalg.solve(T, (points - corners[0]).T)
  bary = np.column_stack([1 - l1 - l2, l1, l2])
  assert points.shape == (2048, 2)
  assert bary.min() > -1e-3
  assert not np.any(np.all(bary > 0.25 + 1e-3, axis=1))


def test_pool_is_deterministic_large_and_holds_out_a_tenth():
  pool = get_source("fractals", resolution=16)
  heldout = get_source("fractals_heldout", resolution=16)
  assert pool.num_classes >= 4096
  assert set(pool.class_ids).isdisjoint(heldout.class_ids)
  assert pool.num_classes + heldout.num_classes == fractals.FractalPoolConfig().class_ids
  assert 0.08 < heldout.num_classes / fractals.FractalPoolConfig().class_ids < 0.12
  first, labels = pool.read_batch([0, 1, 2 * pool.samples_per_class + 5])
  again, _ = get_source("fractals", resolution=16).read_batch([0, 1, 2 * pool.samples_per_class + 5])
  assert first.shape == (3, 16, 16, 1) and first.dtype == np.uint8
  np.testing.assert_array_equal(first, again)
  assert list(labels) == [0, 0, 2]
  assert not np.array_equal(first[0], first[1])  # two samples of one class differ
  assert (first > 0).mean(axis=(1, 2, 3)).min() > 0.05  # each image shows its attractor


def test_perturbation_is_the_spread_dial_and_keeps_maps_contractive():
  system = fractals.class_system(0, 3, 0.2, 4096)
  A, b = fractals.perturbed(system, 0.0, np.random.default_rng(1))
  np.testing.assert_array_equal(A, system.A)
  np.testing.assert_array_equal(b, system.b)
  A, _ = fractals.perturbed(system, 2.0, np.random.default_rng(1))
  assert np.linalg.norm(A, ord=2, axis=(1, 2)).max() <= fractals.CONTRACTION_LIMIT + 1e-9
  quiet = get_source("fractals", resolution=20, spread=0.5)
  loud = get_source("fractals", resolution=20, spread=2.0)
  assert quiet.fingerprint() != loud.fingerprint()
  spread_of = lambda pool: np.std(pool.read_batch(np.arange(16))[0].astype(float), axis=0).mean()
  assert spread_of(loud) > spread_of(quiet)  # more noise on the maps, more varied samples of a class
  with pytest.raises(ValueError, match="data.spread=-1"):
    get_source("fractals", spread=-1.0)


def test_nearest_distances_match_a_float64_reference():
  rng = np.random.default_rng(0)
  train, probes = rng.random((8, 4, 4, 1)), rng.random((5, 4, 4, 1))
  got = variety.nearest_distances(train, probes, (1, 3, 8))
  flat_t, flat_p = train.reshape(8, -1), probes.reshape(5, -1)
  full = np.sqrt(((flat_p[:, None, :] - flat_t[None, :, :]) ** 2).mean(-1))
  want = [full[:, :n].min(1).mean() for n in (1, 3, 8)]
  np.testing.assert_allclose(got, want, rtol=1e-10)
  assert np.all(np.diff(got) <= 0)


def test_coverage_curve_separates_a_fixed_class_from_a_varied_one():
  class Constant:
    """Every sample of a class is the same image: nothing to add after n = 1."""
    num_classes, samples_per_class, image_shape = 3, 100, (4, 4, 1)

    def read_batch(self, indices):
      labels = np.asarray(indices) // self.samples_per_class
      return np.stack([np.full((4, 4, 1), 40 * (c + 1), np.uint8) for c in labels]), labels

  curve = variety.coverage_curve(Constant(), classes=3, probes=8)
  assert curve["distance"] == [0.0] * len(variety.N_VALUES)
  varied = variety.coverage_curve(get_source("fractals", resolution=16), classes=3, probes=8)
  assert varied["relative"][-1] < 0.95 and varied["last_ratio"] < 1.0
  with pytest.raises(ValueError, match="exceeds the 100 samples per class"):
    variety.coverage_curve(Constant(), probes=64)
