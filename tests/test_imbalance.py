"""The imbalance study's statistics and the pre-training held-out error: references and simulations with a
known truth, through the library's own functions."""

import functools

import numpy as np
import pytest
from scipy import stats

from jaxdiv.probe.heldout import masked_error_and_loss
from jaxdiv.stats import imbalance

KS = (16, 64, 256)
LEVELS = (0.0, 0.5, 1.0, 1.5)


@functools.lru_cache(maxsize=None)
def keff(k: int, s: float) -> float:
  from jaxdiv.data.sampler import effective_classes, power_law_sizes
  return effective_classes(power_law_sizes(k, 1024, s))


def synthetic_rows(truth, seeds=3, noise=0.015, seed_sd=0.01, rng=None, heldout=None):
  """Rows of one task at N = 1024 over (s, K, seed): error = truth(K, s) + a seed effect every cell of that seed
  shares + independent noise (the paired structure of a real study)."""
  rng = rng or np.random.default_rng(0)
  rows = []
  for seed in range(seeds):
    shift = rng.normal(0, seed_sd)
    for s in LEVELS:
      for k in KS:
        row = {"task": "t", "N": 1024, "K": k, "n": 1024 // k, "seed": seed, "stage": "sweep", "mode": "class",
               "imbalance": s, "K_eff": keff(k, s), "error": truth(k, s) + shift + rng.normal(0, noise)}
        if heldout:
          row["pretrain_heldout_error"] = heldout(k, s) + rng.normal(0, noise)
        rows.append(row)
  return rows


def parabola(x):
  return 0.30 + 0.02 * (np.log(x) - np.log(64)) ** 2


def test_masked_error_and_loss_match_a_float64_reference():
  rng = np.random.default_rng(1)
  logits = rng.normal(size=(50, 12)).astype(np.float32)
  logits[:, 8:] += 100.0  # the padded head's rest never wins or counts
  labels = rng.integers(0, 8, 50)
  error, loss = masked_error_and_loss(logits, labels, 8)
  valid = logits[:, :8].astype(np.float64)
  reference = -np.mean([v[y] - np.log(np.exp(v).sum()) for v, y in zip(valid, labels)])
  assert loss == pytest.approx(reference, rel=1e-9)
  assert error == pytest.approx(np.mean(valid.argmax(1) != labels))


def test_effect_intervals_cover_the_truth_95_percent():
  """err(K, s) − err(K, 0) intervals over 3 paired seeds cover the true change in 95% ± 2% of 1000 studies,
  with a seed effect shared by every cell (which pairing removes)."""
  rng = np.random.default_rng(2)
  truth = lambda k, s: parabola(k) + 0.01 * s * np.log(k / 16)  # imbalance hurts more at large K
  hits = total = 0
  for _ in range(1000):
    for e in imbalance.imbalance_effects(synthetic_rows(truth, rng=rng, seed_sd=0.03), 1024):
      true = truth(e["K"], e["imbalance"]) - truth(e["K"], 0.0)
      hits += e["ci95"][0] <= true <= e["ci95"][1]
      total += 1
  assert abs(hits / total - 0.95) < 0.02


def test_best_k_verdicts_under_each_truth():
  """When imbalance leaves the curve alone the best K stays (or its regret is not significant) in >= 90% of
  studies; when the optimum moves from 64 to 16 at s = 1.5 by several points, the move is detected."""
  rng = np.random.default_rng(3)
  still = [imbalance.best_k_by_imbalance(synthetic_rows(lambda k, s: parabola(k), rng=rng), 1024)[-1]["verdict"]
           for _ in range(200)]
  assert np.mean([v == "same K" or "no regret" in v for v in still]) >= 0.9
  moving = lambda k, s: parabola(k) + (0.16 * s / 1.5) * (np.log(k / 16) / np.log(16))
  moved = [imbalance.best_k_by_imbalance(synthetic_rows(moving, rng=rng, noise=0.005), 1024)[-1] for _ in range(200)]
  assert np.mean([b["best_K"] == 16 and "> 0" in b["verdict"] for b in moved]) >= 0.9


def test_keff_fit_tells_the_two_truths_apart():
  """A truth that depends on K only through K_eff is fitted better by ln K_eff (negative ΔAICc, and the
  balanced curve predicts the imbalanced cells from K_eff better than from K); a truth in K alone the reverse."""
  rng = np.random.default_rng(4)
  by_keff = lambda k, s: parabola(keff(k, s))
  by_k = lambda k, s: parabola(k)
  for truth, sign in ((by_keff, -1), (by_k, +1)):
    table = imbalance.cell_table(synthetic_rows(truth, rng=rng, noise=0.003, seed_sd=0.0), 1024)
    fits = imbalance.keff_fits(table)
    assert np.sign(fits["delta_aicc"]) == sign
    curve = fits["balanced_curve"]
    assert np.sign(curve["K_eff"]["rmse"] - curve["K"]["rmse"]) == sign


def test_spearman_interval_covers_the_expected_within_seed_rho():
  """Per-seed Spearman equals scipy's; the t interval over 3 seeds covers the expected within-seed rho (the
  truth, from 20,000 simulated seeds) in 95% ± 3% of 1000 studies, with a seed effect shared across K."""
  rng = np.random.default_rng(5)
  ks = [8, 16, 32, 64, 128, 256, 512]
  held_truth = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7])
  down_truth = np.array([0.30, 0.26, 0.22, 0.27, 0.31, 0.34, 0.36])

  def draw(seeds):
    shift = rng.normal(0, 0.02, (seeds, 1))
    return held_truth + rng.normal(0, 0.03, (seeds, 7)), down_truth + shift + rng.normal(0, 0.015, (seeds, 7))
  truth = np.nanmean(imbalance._rowwise_spearman(*draw(20_000)))
  covered = 0
  for study in range(1000):
    held, down = draw(3)
    c = imbalance.spearman_ci({k: dict(enumerate(held[:, i])) for i, k in enumerate(ks)},
                              {k: dict(enumerate(down[:, i])) for i, k in enumerate(ks)})
    if study < 5:
      assert c["per_seed"][0] == pytest.approx(stats.spearmanr(held[0], down[0]).statistic)
    covered += c["ci95"][0] <= truth <= c["ci95"][1]
  assert abs(covered / 1000 - 0.95) < 0.03, covered / 1000
