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
