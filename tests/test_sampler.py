import numpy as np
import pytest

from jaxdiv.data import sampler


def make_labels(num_classes=20, per_class=30, seed=0):
  labels = np.repeat(np.arange(num_classes), per_class)
  return np.random.default_rng(seed).permutation(labels)


def test_exact_counts_and_determinism():
  labels = make_labels()
  idx = sampler.subset_indices(labels, 7, 11, seed=3)
  assert len(idx) == 77 and len(set(idx.tolist())) == 77
  counts = np.unique(labels[idx], return_counts=True)[1]
  assert len(counts) == 7 and (counts == 11).all()
  np.testing.assert_array_equal(idx, sampler.subset_indices(labels, 7, 11, seed=3))
  assert not np.array_equal(idx, sampler.subset_indices(labels, 7, 11, seed=4))


def test_nested_prefixes_in_k_and_n():
  labels = make_labels()
  small = sampler.subset_indices(labels, 5, 8, seed=1)
  big = sampler.subset_indices(labels, 12, 20, seed=1)
  assert set(small.tolist()) <= set(big.tolist())
  # Class order is a prefix: the first 5 classes of the big draw are the small draw's classes.
  big_classes = labels[big].reshape(12, 20)[:, 0]
  np.testing.assert_array_equal(big_classes[:5], labels[small].reshape(5, 8)[:, 0])
  # Within a class, samples are a prefix.
  np.testing.assert_array_equal(big.reshape(12, 20)[:5, :8], small.reshape(5, 8))


def test_not_nested_draws_are_independent():
  labels = make_labels()
  a = sampler.subset_indices(labels, 5, 8, seed=1, nested=False)
  b = sampler.subset_indices(labels, 6, 8, seed=1, nested=False)
  assert not set(a.tolist()) <= set(b.tolist())


def test_errors_name_what_is_available():
  labels = make_labels(num_classes=5, per_class=10)
  with pytest.raises(ValueError, match="only 5"):
    sampler.subset_indices(labels, 6, 2, seed=0)
  with pytest.raises(ValueError, match="holds only 10"):
    sampler.subset_indices(labels, 2, 11, seed=0)
  uneven = np.concatenate([np.zeros(3), np.ones(20)]).astype(int)
  with pytest.raises(ValueError, match=r"n <= 3"):
    sampler.subset_indices(uneven, 2, 5, seed=0)


@pytest.mark.parametrize("exponent", [0.0, 0.5, 1.0, 2.0])
def test_power_law_sizes_total_and_shape(exponent):
  sizes = sampler.power_law_sizes(10, 500, exponent)
  assert sizes.sum() == 500 and (sizes >= 1).all()
  assert (np.diff(sizes) <= 0).all()
  if exponent == 0.0:
    assert sizes.max() - sizes.min() <= 1


def test_imbalanced_subset_total_and_errors():
  labels = make_labels(num_classes=20, per_class=100)
  idx = sampler.imbalanced_subset_indices(labels, 8, 250, exponent=1.0, seed=2)
  assert len(idx) == 250 and len(set(idx.tolist())) == 250
  counts = sorted(np.unique(labels[idx], return_counts=True)[1], reverse=True)
  np.testing.assert_array_equal(counts, sampler.power_law_sizes(8, 250, 1.0))
  with pytest.raises(ValueError, match="lower the exponent"):
    sampler.imbalanced_subset_indices(labels, 8, 700, exponent=2.0, seed=2)


def test_relabel_is_contiguous_in_draw_order():
  labels = make_labels()
  idx = sampler.subset_indices(labels, 4, 3, seed=0)
  new, k = sampler.relabel(labels, idx)
  assert k == 4
  np.testing.assert_array_equal(new, np.repeat(np.arange(4), 3))


@pytest.mark.parametrize("num_classes,per_class", [(4, 5), (8, 16), (13, 7)])
def test_imbalance_zero_is_todays_sampler(num_classes, per_class):
  """s = 0 with N = K·n gives exactly `subset_indices`: the same indices in the same order, every seed."""
  labels = make_labels(num_classes=20, per_class=40)
  for seed in range(3):
    np.testing.assert_array_equal(
        sampler.imbalanced_subset_indices(labels, num_classes, num_classes * per_class, 0.0, seed),
        sampler.subset_indices(labels, num_classes, per_class, seed))
  np.testing.assert_array_equal(sampler.power_law_sizes(num_classes, num_classes * per_class, 0.0),
                                np.full(num_classes, per_class))


@pytest.mark.parametrize("exponent", [0.5, 1.0, 1.5])
def test_power_law_sizes_follow_the_law_and_grow_with_n(exponent):
  """Sizes sum to N, are >= 1, fall with the class rank like (k + 1)^-s, and never shrink when N grows
  (house-monotone), which keeps one seed's subsets nested in N."""
  previous = sampler.power_law_sizes(16, 16, exponent)
  for total in range(17, 800, 7):
    sizes = sampler.power_law_sizes(16, total, exponent)
    assert sizes.sum() == total and (sizes >= 1).all() and (np.diff(sizes) <= 0).all()
    assert (sizes >= previous).all()
    previous = sizes
  law = np.arange(1, 17) ** -exponent
  np.testing.assert_allclose(previous / previous.sum(), law / law.sum(), atol=0.01)


def test_imbalanced_subsets_nest_in_n_and_k():
  """One seed: at a fixed K the subset at N1 is inside the one at N2 > N1; the K classes are a prefix of the
  K2 > K ones; and every class's samples are a prefix of one per-class order whatever K, N and s are."""
  labels = make_labels(num_classes=30, per_class=400)
  small = sampler.imbalanced_subset_indices(labels, 8, 240, 1.0, seed=5)
  large = sampler.imbalanced_subset_indices(labels, 8, 960, 1.0, seed=5)
  assert set(small.tolist()) <= set(large.tolist())
  more = sampler.imbalanced_subset_indices(labels, 16, 960, 1.0, seed=5)
  classes = list(dict.fromkeys(labels[large].tolist()))
  assert list(dict.fromkeys(labels[more].tolist()))[:8] == classes
  balanced = sampler.subset_indices(labels, 16, 100, seed=5)
  for c in classes:
    for subset in (small, large, more):
      picked = subset[labels[subset] == c]
      full = balanced[labels[balanced] == c]
      shorter, longer = (picked, full) if len(picked) <= len(full) else (full, picked)
      np.testing.assert_array_equal(longer[:len(shorter)], shorter)


def test_imbalance_errors_name_the_fix():
  labels = make_labels(num_classes=20, per_class=30)
  with pytest.raises(ValueError, match="use N >= K"):
    sampler.power_law_sizes(10, 9, 1.0)
  with pytest.raises(ValueError, match=">= 0"):
    sampler.power_law_sizes(10, 100, -0.5)
  with pytest.raises(ValueError, match="lower the exponent or N"):
    sampler.imbalanced_subset_indices(labels, 4, 100, 2.0, seed=0)


def test_effective_classes_and_heldout_indices():
  assert sampler.effective_classes([5, 5, 5, 5]) == pytest.approx(4.0)
  assert sampler.effective_classes([97, 1, 1, 1]) < 1.2
  labels = make_labels(num_classes=10, per_class=40)
  subset = sampler.imbalanced_subset_indices(labels, 4, 40, 1.0, seed=3)
  held = sampler.heldout_indices(labels, subset, 3, seed=3)
  assert not set(held.tolist()) & set(subset.tolist())
  assert list(dict.fromkeys(labels[held].tolist())) == list(dict.fromkeys(labels[subset].tolist()))
  assert np.bincount(labels[held]).max() == 3
  # The held-out images are the next ones of each class's order: the same whatever K is.
  bigger = sampler.imbalanced_subset_indices(labels, 6, 60, 1.0, seed=3)
  held_bigger = sampler.heldout_indices(labels, bigger, 3, seed=3)
  first = labels[subset][0]
  if (labels[subset] == first).sum() == (labels[bigger] == first).sum():
    np.testing.assert_array_equal(held[labels[held] == first], held_bigger[labels[held_bigger] == first])
