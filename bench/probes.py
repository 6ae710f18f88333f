"""Probe benchmark: jaxdiv ridge (with its L2 grid) and logistic against scikit-learn, same features.

Features: (10000 train + 2000 test, 512) with 100 classes (Gaussian clusters in a 64-d subspace plus
isotropic noise). Prints time (median of repeats, after compilation) and test accuracy per method.
Run: `python bench/probes.py [--repeats 3]`.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import jax
import numpy as np
from sklearn.linear_model import LogisticRegression, RidgeClassifierCV
from sklearn.preprocessing import StandardScaler

from jaxdiv.probe import logistic_probe, ridge_probe


def make_features(n_train=10000, n_test=2000, dim=512, classes=100, seed=0):
  rng = np.random.default_rng(seed)
  basis = rng.normal(size=(64, dim)) / 8.0
  centres = rng.normal(size=(classes, 64))
  y = rng.integers(0, classes, n_train + n_test)
  x = (centres[y] + 2.5 * rng.normal(size=(len(y), 64))) @ basis + 0.5 * rng.normal(size=(len(y), dim))
  x = x.astype(np.float32)
  return x[:n_train], y[:n_train], x[n_train:], y[n_train:]


def timed(fn, repeats):
  fn()  # compile / warm up
  times, result = [], None
  for _ in range(repeats):
    start = time.perf_counter()
    result = fn()
    times.append(time.perf_counter() - start)
  return statistics.median(times), result


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--repeats", type=int, default=3)
  args = parser.parse_args()
  x_tr, y_tr, x_te, y_te = make_features()
  scaler = StandardScaler().fit(x_tr)
  s_tr, s_te = scaler.transform(x_tr), scaler.transform(x_te)
  rows = []
  t, r = timed(lambda: ridge_probe(x_tr, y_tr, x_te, y_te), args.repeats)
  rows.append((f"jaxdiv ridge, {len(r.l2_grid)}-value L2 grid + refit", t, r.test_accuracy))
  t, r = timed(lambda: logistic_probe(x_tr, y_tr, x_te, y_te), 1)
  rows.append((f"jaxdiv logistic L-BFGS, {len(r.l2_grid)}-value warm path", t, r.test_accuracy))
  t, acc = timed(lambda: LogisticRegression(max_iter=1000).fit(s_tr, y_tr).score(s_te, y_te), 1)
  rows.append(("sklearn LogisticRegression(lbfgs), one C", t, acc))
  alphas = np.logspace(-2, 5, 15)
  t, acc = timed(lambda: RidgeClassifierCV(alphas=alphas).fit(s_tr, y_tr).score(s_te, y_te), 1)
  rows.append(("sklearn RidgeClassifierCV, 15 alphas (LOO)", t, acc))
  print(f"# probes on (10000, 512) features, 100 classes; {platform.machine()}, {jax.devices()[0].platform}, "
        f"{jax.local_device_count()} device(s)")
  print(f"| {'method':46s} | {'seconds':>8s} | {'test acc':>8s} | {'speed-up vs sklearn logistic':>28s} |")
  print(f"|{'-' * 48}|{'-' * 10}|{'-' * 10}|{'-' * 30}|")
  reference = rows[2][1]
  for name, seconds, acc in rows:
    print(f"| {name:46s} | {seconds:8.2f} | {acc:8.4f} | {reference / seconds:27.1f}x |")


if __name__ == "__main__":
  main()
