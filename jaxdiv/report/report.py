"""`jaxdiv report`: report.md with PNG figures from a study's results table and bound-model fit.

Per task: a heatmap of test error over (log K, log n) with the fixed-N anti-diagonals drawn, and the
U-curve of error against log(K/n) at each N with the fitted curve and its bootstrap band. Then the
table: the standard choice (all classes), the grid-searched best and the predicted K*, measured at the
validation budget, per task and averaged.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict

import numpy as np

from jaxdiv.bound.model import error_at
from jaxdiv.bound.study import AVERAGE
from jaxdiv.data.fonts import write_json_atomic, write_text_atomic
from jaxdiv.sweep.results import read_rows


def _train_accuracy(row: dict) -> float:
  """A run's last train accuracy; nan when unknown (0.0 is a real value, not a missing one)."""
  return np.nan if row.get("train_accuracy") is None else row["train_accuracy"]


def _yes_no(flag) -> str:
  return "yes" if flag else "no"


def mean_errors(rows: list[dict], probe: str) -> dict:
  """{task: {(stage, N, K, n): (mean error, mean train accuracy, seeds)}} over seeds, plus the average task."""
  grouped = defaultdict(lambda: defaultdict(list))
  for r in rows:
    if r["probe"] == probe and r.get("mode", "class") == "class":
      grouped[r["task"]][(r.get("stage", "sweep"), r["N"], r["K"], r["n"])].append(r)
  out = {}
  for task, cells in grouped.items():
    out[task] = {key: (float(np.mean([r["error"] for r in rs])), float(np.mean([_train_accuracy(r) for r in rs])),
                       len(rs))
                 for key, rs in cells.items()}
  tasks = list(out)
  keys = set.intersection(*(set(out[t]) for t in tasks)) if tasks else set()
  out[AVERAGE] = {k: (float(np.mean([out[t][k][0] for t in tasks])), out[tasks[0]][k][1], out[tasks[0]][k][2])
                  for k in keys}
  return out


def heatmap_figure(task: str, cells: dict, path: str) -> str:
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  fig, ax = plt.subplots(figsize=(5.2, 4.2))
  keys = sorted(cells)
  K = np.array([k[2] for k in keys], float)
  n = np.array([k[3] for k in keys], float)
  err = np.array([cells[k][0] for k in keys])
  validate = np.array([k[0] != "sweep" for k in keys])
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
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return path


def ucurve_figure(task: str, cells: dict, fit: dict | None, path: str) -> str:
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  fig, ax = plt.subplots(figsize=(5.2, 3.8))
  budgets = sorted({k[1] for k in cells})
  colours = plt.cm.tab10(np.arange(len(budgets)))
  for total, colour in zip(budgets, colours):
    keys = sorted(k for k in cells if k[1] == total)
    K = np.array([k[2] for k in keys], float)
    ratio = np.log10(K * K / total)
    ax.plot(ratio, [cells[k][0] for k in keys], "o", color=colour, label=f"N={total} measured")
    if fit:
      fitted_at = sorted(m["N"] for m in fit.get("measured", []))
      fitted = total in fitted_at or not fitted_at
      ks = np.geomspace(max(1.0, K.min() / 2), min(total, K.max() * 2), 100)
      ax.plot(np.log10(ks * ks / total), error_at(fit["params"], ks, total / ks), "-" if fitted else "--",
              color=colour, label=f"N={total} fit ({fit['family']})" if fitted else
              f"N={total} extrapolated from N={','.join(map(str, fitted_at))}")
      boot = np.array([error_at(p, ks, total / ks) for p in fit.get("bootstrap_params", [])])
      if len(boot):
        lo, hi = np.percentile(boot, [2.5, 97.5], axis=0)
        ax.fill_between(np.log10(ks * ks / total), lo, hi, color=colour, alpha=0.2)
  ax.set_xlabel("log10 K/n")
  ax.set_ylabel("test error")
  ax.set_title(f"{task}: error at fixed N (band: bootstrap 95%)", fontsize=9)
  ax.legend(fontsize=7)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return path


def summary_table(errors: dict, fits: dict, validation_total: int | None, standard_classes: int,
                  predicted: dict | None) -> list[dict]:
  """Per task at the validation N: standard K, grid-searched best K and predicted K*, their errors."""
  rows = []
  for task, cells in errors.items():
    if validation_total is None:
      continue
    at = {k[2]: v for k, v in cells.items() if k[1] == validation_total}
    if not at:
      continue
    best_k = min(at, key=lambda k: at[k][0])
    standard_k = min(at, key=lambda k: abs(np.log(k) - np.log(max(standard_classes, 1))))  # "all classes"
    predicted_k = (predicted or {}).get("K")
    fit = fits.get(task, {})
    row = {"task": task, "N": validation_total, "standard_K": standard_k, "standard_error": at[standard_k][0],
           "best_K": best_k, "best_error": at[best_k][0], "predicted_K": predicted_k,
           "predicted_error": at[predicted_k][0] if predicted_k in at else None,
           "invariance": fit.get("invariance", {}).get("verdict", "n/a"), "boundary": fit.get("boundary"),
           "measured_interior": measured_interior(cells)}
    if row["predicted_error"] is not None:
      row["gain_vs_standard_points"] = 100 * (row["standard_error"] - row["predicted_error"])
      row["gap_to_best_points"] = 100 * (row["predicted_error"] - row["best_error"])
    rows.append(row)
  return rows


def measured_interior(cells: dict) -> bool:
  """Whether, at every sweep budget, the lowest measured error lies strictly inside the K range."""
  budgets = {k[1] for k in cells if k[0] == "sweep"}
  for total in budgets:
    error_at = {k[2]: v[0] for k, v in cells.items() if k[0] == "sweep" and k[1] == total}
    if min(error_at, key=error_at.get) in (min(error_at), max(error_at)):
      return False
  return bool(budgets)


def _fmt(value, spec=".3f"):
  return "–" if value is None else format(value, spec)


def write_report(workdir: str, probe: str = "ridge", meta: dict | None = None) -> str:
  """Write `report.md` and its figures into `workdir/report/`; returns the report's path."""
  meta = meta or {}
  meta_path = os.path.join(workdir, "study.json")
  if os.path.exists(meta_path):
    with open(meta_path) as f:
      meta = {**json.load(f), **meta}
  rows = read_rows(workdir)
  if not rows:
    raise FileNotFoundError(f"{workdir} has no results.jsonl rows: run `jaxdiv sweep` or `jaxdiv demo` first")
  fits = {}
  if os.path.exists(os.path.join(workdir, "fit.json")):
    with open(os.path.join(workdir, "fit.json")) as f:
      fits = json.load(f)
  out_dir = os.path.join(workdir, "report")
  os.makedirs(out_dir, exist_ok=True)
  errors = mean_errors(rows, probe)
  table = summary_table(errors, fits, meta.get("validation_N"), meta.get("standard_classes", 0),
                        meta.get("prediction"))
  lines = ["# jaxdiv study report", ""]
  for key in ("machine", "model", "wall_seconds", "sweep_N", "validation_N", "standard_classes", "note"):
    if key in meta:
      lines.append(f"- **{key.replace('_', ' ')}**: {meta[key]}")
  prediction = meta.get("prediction")
  if prediction:
    lines.append(f"- **prediction** (average task, fitted at N={meta.get('sweep_N')}): {prediction.get('message', '')}")
  lines += ["", "## Standard vs grid-searched vs predicted (test error at the validation N, lower is better)", ""]
  if table:
    lines += ["| task | standard K | err | best K (grid) | err | predicted K | err | predicted vs standard "
              "(accuracy points) | invariance | interior optimum at sweep N (measured / fit) |", "|---" * 10 + "|"]
    for r in table:
      lines.append(f"| {r['task']} | {r['standard_K']} | {r['standard_error']:.3f} | {r['best_K']} | "
                   f"{r['best_error']:.3f} | {_fmt(r['predicted_K'], 'd')} | {_fmt(r['predicted_error'])} | "
                   f"{_fmt(r.get('gain_vs_standard_points'), '+.1f')} | {r['invariance']} | "
                   f"{_yes_no(r['measured_interior'])} / {_yes_no(not r['boundary'])} |")
  else:
    lines.append("(no validation runs in this workdir)")
  lines += ["", "## Fits at the sweep budget", "", "| task | family | α | β | K* at sweep N | grid-best K | interior | "
            "grad norm |", "|---" * 8 + "|"]
  for task, fit in fits.items():
    for m in fit.get("measured", []):
      lines.append(f"| {task} | {fit['family']} | {fit['params']['alpha']:.3f} | {fit['params']['beta']:.3f} | "
                   f"{m['K_star']:.1f} | {m['grid_best_K']:.0f} | {m['interior']} | {fit['grad_norm']:.1e} |")
  lines += ["", "## Figures", ""]
  for task in sorted(errors, key=lambda t: (t == AVERAGE, t)):
    safe = task.replace("/", "_")
    heat = heatmap_figure(task, errors[task], os.path.join(out_dir, f"heatmap_{safe}.png"))
    curve = ucurve_figure(task, errors[task], fits.get(task), os.path.join(out_dir, f"ucurve_{safe}.png"))
    lines += [f"### {task}", "", f"![heatmap]({os.path.basename(heat)}) ![U-curve]({os.path.basename(curve)})", ""]
  lines += ["## Train accuracy beside probe error (under-training shows at the high-K end)", "",
            "| stage | N | K | n | train acc | " + " | ".join(t for t in errors if t != AVERAGE) + " |",
            "|---" * (5 + len(errors) - 1) + "|"]
  first = next(t for t in errors if t != AVERAGE)
  for key in sorted(errors[first], key=lambda k: (k[1], k[2])):
    lines.append(f"| {key[0]} | {key[1]} | {key[2]} | {key[3]} | {errors[first][key][1]:.2f} | " +
                 " | ".join(_fmt(errors[t].get(key, (None,))[0]) for t in errors if t != AVERAGE) + " |")
  path = os.path.join(out_dir, "report.md")
  write_text_atomic(path, "\n".join(lines) + "\n")
  write_json_atomic(os.path.join(out_dir, "table.json"), table)
  return path
