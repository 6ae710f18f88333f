"""Every figure of the reports: heatmaps and U-curves of a K*-invariance study, the contrast overlay, error
against K and K_eff by imbalance, downstream against pre-training error, and a factor study's U-curves."""

from __future__ import annotations

import numpy as np

from jaxdiv import io
from jaxdiv.bound.analysis import Analysis
from jaxdiv.bound.model import error_at
from jaxdiv.results import AVERAGE, GRID_STAGES


def pyplot():
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  return plt


def save(fig, ax, path: str, xlabel: str, title: str, legend: bool = True) -> str:
  """Label, lay out, write and close a figure (test error on the y axis)."""
  ax.set_xlabel(xlabel)
  ax.set_ylabel("test error")
  ax.set_title(title, fontsize=9)
  if legend:  # beside the axes, on a wider figure: inside, it covered points (v2's N = 256 curve)
    width, height = fig.get_size_inches()
    fig.set_size_inches(width + 2.3, height)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
  fig.tight_layout()
  io.save_figure(fig, path)
  pyplot().close(fig)
  return path


def heatmap_figure(task: str, cells: dict, path: str) -> str:
  plt = pyplot()
  fig, ax = plt.subplots(figsize=(5.2, 4.2))
  keys = sorted(cells)
  K = np.array([k[2] for k in keys], float)
  n = np.array([k[3] for k in keys], float)
  err = np.array([cells[k][0] for k in keys])
  validate = np.array([k[0] not in GRID_STAGES for k in keys])
  points = ax.scatter(np.log10(K), np.log10(n), c=err, cmap="viridis_r", s=260, marker="s",
                      edgecolors=np.where(validate, "red", "black"), linewidths=1.2)
  middle = 0.5 * (err.min() + err.max())
  for k, m, e in zip(K, n, err):  # viridis_r: low error is light, so its label is dark
    ax.annotate(f"{e:.2f}", (np.log10(k), np.log10(m)), ha="center", va="center", fontsize=6,
                color="black" if e < middle else "white")
  pad = 0.3
  x_lo, x_hi = np.log10(K).min() - pad, np.log10(K).max() + pad
  y_lo, y_hi = np.log10(n).min() - pad, np.log10(n).max() + pad
  for total in sorted({int(k[1]) for k in keys}):
    ks = np.geomspace(1, total, 50)
    ax.plot(np.log10(ks), np.log10(total / ks), "--", color="grey", lw=0.8, zorder=0)
    x = max(np.log10(total) - y_hi + 0.1, x_lo + 0.05)  # where the diagonal enters at the top left
    ax.text(x + 0.05, np.log10(total) - x, f"N={total}", fontsize=7, color="grey", va="top")
  ax.set_xlim(x_lo, x_hi)
  ax.set_ylim(y_lo, y_hi)
  ax.set_xlabel("log10 K (classes)")
  ax.set_ylabel("log10 n (samples per class)")
  ax.set_title(f"{task}: test error (red edge: validation runs)", fontsize=9)
  fig.colorbar(points, ax=ax, label="test error")
  fig.tight_layout()
  io.save_figure(fig, path)
  plt.close(fig)
  return path


def ucurve_figure(task: str, cells: dict, fit: Analysis | None, path: str) -> str:
  plt = pyplot()
  fig, ax = plt.subplots(figsize=(5.2, 3.8))
  budgets = sorted({k[1] for k in cells})
  colours = plt.cm.tab10(np.arange(len(budgets)))
  for total, colour in zip(budgets, colours):
    keys = sorted(k for k in cells if k[1] == total)
    K = np.array([k[2] for k in keys], float)
    ratio = np.log10(K * K / total)
    band = next((b for b in (fit.band if fit else []) if b["N"] == total), None)
    se = {k: v for k, v in zip(band["K"], band["se"])} if band and band.get("K") else {}
    bars = [se.get(int(k)) or 0.0 for k in K]
    ax.errorbar(ratio, [cells[k][0] for k in keys], yerr=bars if any(bars) else None, fmt="o", color=colour,
                capsize=2, label=f"N={total} seed mean" + (" ± 1 SE" if any(bars) else ""))
    if band and band.get("band"):
      low, high = band["band"]
      pad = np.median(np.diff(np.sort(ratio))) / 2 if len(ratio) > 1 else 0.1  # half a grid step each side
      ax.axvspan(np.log10(low * low / total) - pad, np.log10(high * high / total) + pad, color=colour, alpha=0.1,
                 label=f"N={total}: K as good as the best")
    if fit:
      fitted_at = sorted(m["N"] for m in fit.measured)
      fitted = total in fitted_at or not fitted_at
      ks = np.geomspace(max(1.0, K.min() / 2), min(total, K.max() * 2), 100)
      ax.plot(np.log10(ks * ks / total), error_at(fit.params, ks, total / ks), "-" if fitted else "--",
              color=colour, label=f"N={total} fit ({fit.family})" if fitted else
              f"N={total} extrapolated from N={','.join(map(str, fitted_at))}")
      boot = np.array([error_at(p, ks, total / ks) for p in fit.bootstrap_params])
      if len(boot):
        lo, hi = np.percentile(boot, [2.5, 97.5], axis=0)
        ax.fill_between(np.log10(ks * ks / total), lo, hi, color=colour, alpha=0.2)
  return save(fig, ax, path, "log10 K/n", f"{task}: error at fixed N (curve bands: bootstrap 95%)")


def contrast_figure(task: str, class_rows: list, cluster_rows: list, floors: dict, path: str) -> str:
  """Class-labelled vs cluster-labelled error against K at the budgets that have both (same N, same
  steps); one thin line per seed, the seed mean bold; chance and random-init floors dashed."""
  plt = pyplot()
  fig, ax = plt.subplots(figsize=(5.2, 3.8))
  budgets = sorted({r.N for r in cluster_rows} & {r.N for r in class_rows})
  colours = plt.cm.tab10(np.arange(len(budgets)))
  for total, colour in zip(budgets, colours):
    for rows, style, label in ((class_rows, "-", "class labels"), (cluster_rows, ":", "k-means labels")):
      at = [r for r in rows if r.N == total]
      ks = sorted({r.K for r in at})
      for seed in sorted({r.seed for r in at}):
        by_k = {r.K: r.error for r in at if r.seed == seed}
        ax.plot([k for k in ks if k in by_k], [by_k[k] for k in ks if k in by_k], style, color=colour, lw=0.6,
                alpha=0.5)
      ax.plot(ks, [np.mean([r.error for r in at if r.K == k]) for k in ks], style, marker="o", color=colour, lw=2,
              label=f"N={total}, {label}")
  for name, value in floors.items():
    ax.axhline(value, color="grey", ls="--", lw=0.8)
    ax.text(0.01, value, f"{name}", fontsize=7, color="grey", va="bottom", transform=ax.get_yaxis_transform())
  ax.set_xscale("log")
  ticks = sorted({r.K for r in class_rows + cluster_rows if r.N in budgets})
  ax.set_xticks(ticks, [str(k) for k in ticks])
  ax.minorticks_off()
  return save(fig, ax, path, "K (classes or clusters)", f"{task}: class vs cluster labels (thin: seeds)")


def imbalance_figure(task: str, table: list[dict], path: str) -> str:
  """Error against K (left) and against K_eff (right), one line per imbalance s, seed means ± 95% t CI."""
  plt = pyplot()
  fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.8), sharey=True)
  levels = sorted({c["imbalance"] for c in table})
  colours = plt.cm.viridis(np.linspace(0, 0.85, len(levels)))
  for s, colour in zip(levels, colours):
    cells = [c for c in table if c["imbalance"] == s]
    y = np.array([c["error"] for c in cells])
    bars = np.array([[c["error"] - c["ci95"][0], c["ci95"][1] - c["error"]] if c["ci95"] else [0, 0]
                     for c in cells]).T
    for ax, key in zip(axes, ("K", "K_eff")):
      ax.errorbar([c[key] for c in cells], y, yerr=bars, fmt="-o", color=colour, capsize=2, label=f"s = {s:g}")
  for ax, label in zip(axes, ("K (classes)", "K_eff = exp(entropy of the class sizes)")):
    ax.set_xscale("log")
    ax.set_xlabel(label)
  axes[0].set_ylabel("test error")
  ks = sorted({c["K"] for c in table})
  axes[0].set_xticks(ks, [str(k) for k in ks])
  axes[0].minorticks_off()
  axes[0].legend(fontsize=7, title="imbalance", title_fontsize=7)
  axes[0].set_title(f"{task}: error vs K, one line per s (95% CI)", fontsize=9)
  axes[1].set_title("the same runs against K_eff", fontsize=9)
  fig.tight_layout()
  io.save_figure(fig, path)
  plt.close(fig)
  return path


def heldout_figure(rows, path: str, colour_by: str = "N", title: str = "") -> str:
  """Average-task downstream error against each run's pre-training held-out error, one point per run,
  coloured by N (or by imbalance s)."""
  plt = pyplot()
  fig, ax = plt.subplots(figsize=(5.2, 3.8))
  runs = [r for r in rows if r.task == AVERAGE and r.pretrain_heldout_error is not None and r.mode == "class"
          and r.stage in ("sweep", "refine")]
  groups = sorted({getattr(r, colour_by) for r in runs})
  colours = plt.cm.tab10(np.arange(len(groups)))
  for group, colour in zip(groups, colours):
    at = [r for r in runs if getattr(r, colour_by) == group]
    ax.scatter([r.pretrain_heldout_error for r in at], [r.error for r in at], s=14, color=colour,
               label=f"{colour_by if colour_by != 'imbalance' else 's'} = {group:g}")
    for k in sorted({r.K for r in at}):
      mean = [np.mean([r.pretrain_heldout_error for r in at if r.K == k]), np.mean([r.error for r in at if r.K == k])]
      ax.annotate(f"{k}", mean, fontsize=6, color=colour)
  ax.set_xlabel("pre-training held-out error (its own K classes, unseen images)")
  return save(fig, ax, path, ax.get_xlabel(), title or "average task: downstream vs pre-training error\n"
               "(one point per run; labels: K, at the seed mean)")


def factor_figure(name: str, curves: dict, labels: dict, total: int, path: str) -> str:
  """Average-task error against n at one N, one U-curve per level (seed mean ± standard error); `labels`:
  {level: its name in the legend}."""
  plt = pyplot()
  fig, ax = plt.subplots(figsize=(5.5, 3.8))
  for level, label in labels.items():
    curve = curves[level].get(total)
    if curve is None:
      continue
    se = np.nanstd(curve.errors, axis=1, ddof=1) / np.sqrt(curve.seed_counts) if curve.errors.shape[1] > 1 else None
    ax.errorbar(curve.n, curve.mean, yerr=se, marker="o", capsize=2, label=f"{name} = {label}")
  ax.set_xscale("log", base=2)
  return save(fig, ax, path, "n (images per class); K = N / n", f"average task, N = {total}: error against n by {name}")
