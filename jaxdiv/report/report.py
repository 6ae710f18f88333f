"""`jaxdiv report`: report.md with PNG figures from a study's results table and bound-model fit.

Per task: a heatmap of test error over (log K, log n) with the fixed-N anti-diagonals drawn, and the
U-curve of error against log(K/n) at each N with the fitted curve and its bootstrap band. Then the
table: the standard choice (all classes), the grid-searched best and the predicted K*, measured at the
validation budget, per task and averaged.
"""

from __future__ import annotations

import os
from collections import defaultdict

import numpy as np

from jaxdiv import io
from jaxdiv.bound import measured
from jaxdiv.bound.analysis import Analysis
from jaxdiv.bound.model import error_at
from jaxdiv.results import AVERAGE, GRID_STAGES, ResultRow, read_rows, with_average


def _train_accuracy(row: ResultRow) -> float:
  """A run's last train accuracy; nan when unknown (0.0 is a real value, not a missing one)."""
  return np.nan if row.train_accuracy is None else row.train_accuracy


def _yes_no(flag) -> str:
  return "yes" if flag else "no"


def mean_errors(rows, probe: str, mode: str = "class") -> dict:
  """{task: {(stage, N, K, n): (mean error, mean train accuracy, seeds)}} over seeds, the average task
  included (`results.with_average`: only cells that every task has)."""
  rows = [r if isinstance(r, ResultRow) else ResultRow.from_dict(r) for r in rows]
  grouped = defaultdict(lambda: defaultdict(list))
  for r in with_average([r for r in rows if r.probe == probe]):
    if r.mode == mode:
      grouped[r.task][(r.stage, r.N, r.K, r.n)].append(r)
  return {task: {key: (float(np.mean([r.error for r in rs])), float(np.mean([_train_accuracy(r) for r in rs])),
                       len(rs))
                 for key, rs in cells.items()}
          for task, cells in grouped.items()}


def _pyplot():
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  return plt


def _save(fig, ax, path: str, xlabel: str, title: str, legend: bool = True) -> str:
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
  _pyplot().close(fig)
  return path


def heatmap_figure(task: str, cells: dict, path: str) -> str:
  plt = _pyplot()
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
  plt = _pyplot()
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
  return _save(fig, ax, path, "log10 K/n", f"{task}: error at fixed N (curve bands: bootstrap 95%)")


def contrast_figure(task: str, class_rows: list, cluster_rows: list, floors: dict, path: str) -> str:
  """Class-labelled vs cluster-labelled error against K at the budgets that have both (same N, same
  steps); one thin line per seed, the seed mean bold; chance and random-init floors dashed."""
  plt = _pyplot()
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
  return _save(fig, ax, path, "K (classes or clusters)", f"{task}: class vs cluster labels (thin: seeds)")


def summary_table(rows: list[ResultRow], errors: dict, fits: dict, meta: dict) -> list[dict]:
  """Per task at the validation N (sweep and validation runs together): the standard K, the grid's best K
  and the predicted K, their errors, and their differences with 95% CIs (`measured.holdout`)."""
  total = meta.get("validation_N")
  if total is None:
    return []
  by_task = defaultdict(list)
  for r in with_average(rows):
    by_task[r.task].append(r)
  predicted_k = (meta.get("prediction") or {}).get("K")
  out = []
  for task, task_rows in by_task.items():
    curve = measured.curves(task_rows, stage=(*GRID_STAGES, "validate")).get(total)
    if curve is None or not (total in meta.get("sweep_N", []) or any(r.stage == "validate" and r.N == total
                                                                    for r in task_rows)):
      continue
    ks = curve.K.astype(int).tolist()
    standard = meta.get("standard_K")
    if standard not in ks:  # "all classes": the measured K nearest to sweep.standard_classes
      standard = min(ks, key=lambda k: abs(np.log(k) - np.log(max(meta.get("standard_classes", 1), 1))))
    held = measured.holdout(curve, predicted_k if predicted_k in ks else standard, standard)
    fit = fits.get(task)
    row = {"task": task, "N": total, "seeds": held["seeds"], "standard_K": standard,
           "standard_error": held["standard_error"], "best_K": held["best_K"], "best_error": held["best_error"],
           "predicted_K": predicted_k, "predicted_error": held["predicted_error"] if predicted_k in ks else None,
           "invariance": fit.slope.get("verdict", "n/a") if fit else "n/a",
           "boundary": fit.boundary if fit else None, "measured_interior": measured_interior(errors.get(task, {}))}
    if row["predicted_error"] is not None:
      row["gain_vs_standard_points"] = 100 * held["standard_minus_predicted"]
      row["gain_vs_standard_ci95"] = [100 * v for v in held["standard_minus_predicted_ci95"] or []] or None
      row["gap_to_best_points"] = 100 * held["predicted_minus_best"]
      row["gap_to_best_ci95"] = [100 * v for v in held["predicted_minus_best_ci95"] or []] or None
    out.append(row)
  return out


def measured_interior(cells: dict) -> bool:
  """Whether, at every sweep budget, the lowest mean error lies strictly inside the K range."""
  budgets = {k[1] for k in cells if k[0] == "sweep"}
  for total in budgets:
    error_at = {k[2]: v[0] for k, v in cells.items() if k[0] in GRID_STAGES and k[1] == total}
    if min(error_at, key=error_at.get) in (min(error_at), max(error_at)):
      return False
  return bool(budgets)


def _as_number(value) -> float:
  """A prior's value: a number, or the mean of its per-budget values."""
  return float(np.mean(list(value.values()))) if isinstance(value, dict) else float(value)


def _fmt(value, spec=".3f"):
  return "–" if value is None or (isinstance(value, float) and not np.isfinite(value)) else format(value, spec)


def _fitted_k(value, total: int) -> str:
  """A fitted K*: past N (n < 1) it is not a split of N but a fit with no finite optimum (one budget, say)."""
  if value is not None and np.isfinite(value) and value > total:
    return f"> {total} (no finite optimum)"
  return _fmt(value, ".1f")


def _points(value):
  return None if value is None else 100 * value


def _ci(interval, spec=".3f") -> str:
  return "–" if not interval else f"[{format(interval[0], spec)}, {format(interval[1], spec)}]"


def floors(rows: list[ResultRow], probe: str) -> dict:
  """{task: {"chance": error, "random init": error}} from the baseline rows, the average task included."""
  out = defaultdict(dict)
  for r in with_average([r for r in rows if r.probe == probe and r.stage == "baseline"]):
    out[r.task]["chance" if r.mode == "chance" else "random init"] = r.error
  return dict(out)


def answers(fits: dict, meta: dict, table: list[dict]) -> list[str]:
  """The report's first lines: the questions of the study answered in words, with intervals."""
  verdict = meta.get("verdict", {})
  lines = ["## Answers", ""]
  if verdict:
    lines.append(f"- **Verdict**: {verdict.get('message', '')}")
  average = fits.get(AVERAGE)
  prediction = meta.get("prediction")
  average_row = next((r for r in table if r["task"] == AVERAGE), None)
  if average:
    for band in average.band:
      if band["band_K"]:
        lines.append(f"- **Which K at N = {band['N']}?** (average task) K = {', '.join(map(str, band['band_K']))} "
                     f"are as good as the best (mean error within the 95% CI of the best K = {band['best_K']}'s "
                     f"{band['best_error']:.3f}, i.e. <= {band['threshold']:.3f})")
      else:
        lines.append(f"- **Which K at N = {band['N']}?** (average task) the best measured K is {band['best_K']} "
                     f"({band['best_error']:.3f}); no band with one seed")
  if prediction and average_row and average_row.get("predicted_error") is not None:
    lines.append(f"- **Regret of the predicted K at N = {average_row['N']}**: "
                 f"{average_row['gap_to_best_points']:+.1f} points against the grid's best K = {average_row['best_K']} "
                 f"(95% CI {_ci(average_row.get('gap_to_best_ci95'), '+.1f')})")
  if average:
    for best in average.best_k:
      ci = f"95% CI {best['K_ci95'][0]:.0f}–{best['K_ci95'][1]:.0f}" if best["K_ci95"] else "no CI (one seed)"
      edge = " (at the grid's edge: the true optimum may lie beyond)" if best["at_edge"] else ""
      lines.append(f"- **Best K at N = {best['N']}** (average task, quadratic vertex in ln K): K* = "
                   f"{best['K_star']:.0f} ({ci}), n* = {best['n_star']:.0f}, K*/n* = {best['ratio']:.3g}{edge}")
    slope = average.slope
    lines.append(f"- **Is K/n N-invariant?** {slope.get('verdict')}: slope of ln K* on ln N = "
                 f"{_fmt(slope.get('slope'), '.2f')} (95% CI {_ci(slope.get('slope_ci95'), '.2f')}; an invariant K/n "
                 f"gives 0.5, and a CI inside 0.5 ± 0.15 counts as invariant). {slope.get('message', '')}. "
                 f"Bound-model test beside it: "
                 f"{average.invariance.get('verdict')}"
                 + (f" (implied exponent β/(α + β) = {average.invariance['exponent']:.2f}, 95% CI "
                    f"{_ci(average.invariance['exponent_ci95'], '.2f')}; β − α = "
                    f"{average.invariance['beta_minus_alpha']:.2f})"
                    if "exponent" in average.invariance else ""))
    longer = average.slope_2x
    if longer:
      where = "; ".join(f"N = {b['N']}: K = {', '.join(map(str, b['K']))} at 2x, K* = {b['K_star']:.0f} "
                        f"{_ci(b['K_ci95'], '.0f')}" for b in longer["longer"])
      lines.append(f"- **Training-length check** (each gated budget's K* from its 2x-steps curve, with the 1x "
                   f"grid's noise; {where}): slope {_fmt(longer.get('slope'), '.2f')} (95% CI "
                   f"{_ci(longer.get('slope_ci95'), '.2f')}): {longer.get('verdict')}")
    preview = meta.get("power")
    if preview and slope.get("slope_ci95"):
      low, high = slope["slope_ci95"]
      truths = preview["truths"]  # a study.json written before the slope-1 truth holds two
      invariant = next(t for t in truths.values() if t["slope"] == 0.5)
      odds = "; ".join(f"{t['verdicts'].get('inconclusive', 0):.0%} under slope {t['slope']:g}"
                       for t in truths.values())
      lines.append(f"- **Power, declared before the data** (`--plan --power`, {preview['prior_source']} prior: seed SD "
                   f"{100 * _as_number(preview['prior']['seed_sd']):.1f} pt): expected slope CI half-width "
                   f"{invariant['slope_ci_half_width']:.2f}, achieved {(high - low) / 2:.2f}; P(inconclusive) "
                   f"{odds} (0.5 = invariant K/n)")
  interior = defaultdict(list)
  for task, fit in sorted(fits.items(), key=lambda item: (item[0] == AVERAGE, item[0])):
    for check in fit.interior:
      interior[check["verdict"]].append(f"{task} N={check['N']}")
  if interior:
    lines.append("- **Interior optimum?** (best interior K against each end; yes = both ends worse with 95% "
                 "confidence; paired seeds where every K has the same 3+ seeds): "
                 + "; ".join(f"{verdict}: {', '.join(where)}" for verdict, where in interior.items()))
  if prediction and average_row:
    fitted_on = f" (bound model fitted on N = {meta['fit_N']})" if meta.get("fit_N") else ""
    if average_row.get("predicted_error") is not None:
      lines.append(
          f"- **Prediction at N = {average_row['N']}**{fitted_on}: {prediction.get('message', '')}. Average error "
          f"{average_row['predicted_error']:.3f} vs the grid's best {average_row['best_error']:.3f} (K = "
          f"{average_row['best_K']}): {average_row['gap_to_best_points']:+.1f} points (95% CI "
          f"{_ci(average_row.get('gap_to_best_ci95'), '+.1f')}); vs the standard K = {average_row['standard_K']} "
          f"({average_row['standard_error']:.3f}): {average_row['gain_vs_standard_points']:+.1f} points better (95% CI "
          f"{_ci(average_row.get('gain_vs_standard_ci95'), '+.1f')}); {average_row['seeds']} seeds per K.")
    else:
      lines.append(f"- **Prediction at N = {average_row['N']}**{fitted_on}: {prediction.get('message', '')}")
  for check in (average.contrast if average else []):
    rhos = ", ".join(f"{r:+.2f}" for r in check["spearman_per_seed"])
    lines.append(f"- **Contrast case at N = {check['N']}** (labels from k-means of one fixed sample): "
                 f"{check['verdict']} in K (Spearman(ln K, error) per seed: {rhos}; monotone means every seed <= "
                 f"{check['threshold']})")
  return lines + [""]


def noise_lines(fits: dict) -> list[str]:
  """Where each budget's noise comes from (`measured.noise_decomposition`), in points: what to buy next."""
  lines = ["", "## Where the noise comes from (points of error; seed SD: network to network on the same test "
           "images, paired: with the seed effect every K shares removed; test SD: the probe's test-set sampling "
           "SD, a bootstrap over test images)", "",
           "| task | N | seeds | seed SD | paired SD | test-set SD | more precision from |", "|---" * 7 + "|"]
  for task, fit in fits.items():
    for c in fit.noise:
      sds = " | ".join(_fmt(_points(c[k]), ".2f") for k in ("seed_sd", "paired_sd", "test_sd"))
      lines.append(f"| {task} | {c['N']} | {c['seeds']} | {sds} | {c.get('buy', '-')} |")
  return lines


def gate_lines(fits: dict) -> list[str]:
  lines = ["## Convergence gate (2x steps, same seed; passes where |change| <= 1.96·√2·(pooled seed SD at that N), "
           "at least 1 point)", ""]
  if not any(f.gate for f in fits.values()):
    return lines + ["gate not run", ""]
  lines += ["| N | task | K | n | seed | error 1x | error 2x | change | tolerance | passes |", "|---" * 10 + "|"]
  for task, fit in sorted(fits.items(), key=lambda item: (item[0] != AVERAGE, item[0])):
    for budget in fit.gate:
      for c in budget["checks"]:
        lines.append(f"| {budget['N']} | {task} | {c['K']} | {c['n']} | {c.get('seed', '–')} | {c['error_1x']:.3f} | "
                     f"{c['error_2x']:.3f} | "
                     f"{100 * c['change']:+.1f} pt | {100 * c['tolerance']:.1f} pt | {_yes_no(c['passes'])} |")
  average = fits.get(AVERAGE)
  if average:
    lines += ["", "The study's gate is the average task's: " + ", ".join(
        f"N = {g['N']} {'passes' if g['passes'] else 'FAILS'} (seed SD {_fmt(_points(g.get('seed_sd')), '.1f')} pt, "
        f"tolerance {_fmt(_points(g.get('tolerance')), '.1f')} pt)" for g in average.gate) + "."]
  return lines + [""]


def time_line(meta: dict) -> str | None:
  """Wall seconds by phase as measured, beside the estimate `--plan` would have printed at the start."""
  measured = meta.get("phases_seconds")
  if not measured:
    return f"- **wall seconds**: {meta['wall_seconds']}" if "wall_seconds" in meta else None
  calls = len(meta.get("calls") or [1])
  where = "in this call" if calls == 1 else f"over the {calls} calls that trained (a resumed study)"
  line = (f"- **wall time**: {meta['wall_seconds']:.0f} s {where} (" +
          ", ".join(f"{name.replace('_', ' and ')} {seconds:.0f} s" for name, seconds in measured.items()) + ")")
  estimate = meta.get("estimate") or {}
  if estimate.get("rates") and not estimate.get("unpriced_shapes"):
    line += (f"; estimated before it started: {estimate['seconds']:.0f} s (" +
             ", ".join(f"{name.replace('_', ' and ')} {seconds:.0f} s"
                       for name, seconds in estimate["phases_seconds"].items()) +
             f"; from rates recorded on this machine; excludes {estimate['excludes']})")
  elif estimate:
    line += "; no estimate before it started (no earlier run of these shapes on this machine; `--plan` times them)"
  return line


def header_lines(meta: dict) -> list[str]:
  """What was run, where, and how long it took, one line each."""
  lines = [f"- **{key.replace('_', ' ')}**: {meta[key]}" for key in ("machine", "devices", "model", "budget")
           if key in meta]
  lines += [line for line in [time_line(meta)] if line]
  lines += [f"- **{key.replace('_', ' ')}**: {meta[key]}" for key in ("sweep_N", "fit_N", "validation_N")
            if key in meta]
  if "standard_K" in meta:
    lines.append(f"- **standard K** (the usual choice, \"all classes\"): K = {meta['standard_K']} at N = "
                 f"{meta.get('validation_N')}, i.e. as many classes as n >= {meta.get('n_min', 'n_min')} allows, "
                 f"capped at sweep.standard_classes = {meta.get('standard_classes')}")
  if meta.get("note"):
    lines.append(f"- **note**: {meta['note']}")
  return lines


def write_report(workdir: str, probe: str = "ridge", meta: dict | None = None) -> str:
  """Write `report.md` and its figures into `workdir/report/`; returns the report's path."""
  from jaxdiv.bound.fits import load_fits
  meta = meta or {}
  meta_path = os.path.join(workdir, "study.json")
  if io.exists(meta_path):
    meta = {**io.read_json(meta_path), **meta}
  rows = [r for r in read_rows(workdir) if r.probe == probe]
  if not rows:
    raise FileNotFoundError(f"{workdir} has no results.jsonl rows: run `jaxdiv sweep` or `jaxdiv demo` first")
  fits = load_fits(workdir) if io.exists(os.path.join(workdir, "fit.json")) else {}
  out_dir = os.path.join(workdir, "report")
  io.makedirs(out_dir)
  errors = mean_errors(rows, probe)
  floor = floors(rows, probe)
  table = summary_table(rows, errors, fits, meta)
  lines = ["# jaxdiv study report", ""] + header_lines(meta)
  lines += [""] + answers(fits, meta, table) + gate_lines(fits)
  lines += ["## Standard vs grid-searched vs predicted (test error at the validation N, lower is better)", ""]
  if table:
    lines += ["| task | chance | random init | standard K | err | best K (grid) | err | predicted K | err | "
              "predicted vs standard (points, 95% CI) | predicted vs grid best (points, 95% CI) | "
              "interior optimum at sweep N (measured / fit) |",
              "|---" * 12 + "|"]
    for r in table:
      f = floor.get(r["task"], {})
      lines.append(f"| {r['task']} | {_fmt(f.get('chance'))} | {_fmt(f.get('random init'))} | {r['standard_K']} | "
                   f"{r['standard_error']:.3f} | {r['best_K']} | {r['best_error']:.3f} | "
                   f"{_fmt(r['predicted_K'], 'd')} | "
                   f"{_fmt(r['predicted_error'])} | {_fmt(r.get('gain_vs_standard_points'), '+.1f')} "
                   f"{_ci(r.get('gain_vs_standard_ci95'), '+.1f')} | {_fmt(r.get('gap_to_best_points'), '+.1f')} "
                   f"{_ci(r.get('gap_to_best_ci95'), '+.1f')} | "
                   f"{_yes_no(r['measured_interior'])} / {_yes_no(not r['boundary'])} |")
  else:
    lines.append("(no validation runs in this workdir)")
  lines += ["", "## Best K per N, measured (quadratic vertex in ln K; bootstrap from the seed SD of K-to-K "
            "differences, paired where every K has the same 3+ seeds) and fitted "
            "(bound model)", "",
            "| task | N | K* measured | 95% CI | K*/n* | K* fitted | 95% CI (ln K, clipped) | share of replicates "
            "interior | grid-best K | family | grad norm |", "|---" * 11 + "|"]
  for task, fit in fits.items():
    fitted = {m["N"]: m for m in fit.measured}
    for best in fit.best_k:
      m = fitted.get(best["N"], {})
      lines.append(f"| {task} | {best['N']} | {best['K_star']:.1f}{' (edge)' if best['at_edge'] else ''} | "
                   f"{_ci(best['K_ci95'], '.0f')} | {best['ratio']:.3g} | {_fitted_k(m.get('K_star'), best['N'])} | "
                   f"{_ci(m.get('K_ci95'), '.0f')} | {_fmt(m.get('interior_share'), '.2f')} | {best['grid_best_K']} | "
                   f"{fit.family} | {fit.grad_norm:.1e} |")
  lines += ["", "## Interior optimum (error at the end minus at the best interior K; 95% CIs from paired seeds "
            "where every K has the same 3+ seeds, else the pooled seed SD)",
            "", "| task | N | best interior K | low end K | diff | 95% CI | high end K | diff | 95% CI | differences | "
            "verdict |", "|---" * 11 + "|"]
  for task, fit in fits.items():
    for c in fit.interior:
      if "best_interior_K" in c:
        lines.append(f"| {task} | {c['N']} | {c['best_interior_K']} | {c['low_end_K']} | "
                     f"{c['low_minus_best']:+.3f} | {_ci(c['low_ci95'])} | {c['high_end_K']} | "
                     f"{c['high_minus_best']:+.3f} | {_ci(c['high_ci95'])} | {c.get('differences') or '-'} | "
                     f"{c['verdict']} |")
  lines += noise_lines(fits)
  lines += ["", "## K* at each sweep N against the Huber delta of the fit (sensitivity)", ""]
  if fits:
    deltas = [h["delta"] for h in next(iter(fits.values())).huber]
    lines += ["| task | " + " | ".join(f"delta = {d:g}" for d in deltas) + " |", "|---" * (1 + len(deltas)) + "|"]
    for task, fit in fits.items():
      cells = (", ".join(f"N={n}: {_fitted_k(k, int(n))}" for n, k in h["K_star"].items()) for h in fit.huber)
      lines.append(f"| {task} | " + " | ".join(cells) + " |")
  lines += ["", "## Figures", ""]
  for task in sorted(errors, key=lambda t: (t == AVERAGE, t)):
    safe = task.replace("/", "_")
    cells = {k: v for k, v in errors[task].items() if k[0] in (*GRID_STAGES, "validate")}
    if not cells:
      continue
    heat = heatmap_figure(task, cells, os.path.join(out_dir, f"heatmap_{safe}.png"))
    curve = ucurve_figure(task, cells, fits.get(task), os.path.join(out_dir, f"ucurve_{safe}.png"))
    lines += [f"### {task}", "", f"![heatmap]({os.path.basename(heat)}) ![U-curve]({os.path.basename(curve)})", ""]
  by_task = defaultdict(list)
  for r in with_average(rows):
    if r.stage == "sweep":
      by_task[r.task].append(r)
  contrast_tasks = [t for t, rs in by_task.items() if any(r.mode == "cluster" for r in rs)]
  if contrast_tasks:
    lines += ["## The contrast case: class labels vs k-means labels of one fixed sample (same N, same steps)", ""]
    for task in sorted(contrast_tasks, key=lambda t: (t != AVERAGE, t)):
      safe = task.replace("/", "_")
      path = contrast_figure(task, [r for r in by_task[task] if r.mode == "class"],
                             [r for r in by_task[task] if r.mode == "cluster"], floor.get(task, {}),
                             os.path.join(out_dir, f"contrast_{safe}.png"))
      verdicts = "; ".join(f"N={c['N']}: {c['verdict']} (Spearman per seed "
                           f"{', '.join(f'{x:+.2f}' for x in c['spearman_per_seed'])})"
                           for c in (fits[task].contrast if task in fits else []))
      lines += [f"### {task}: {verdicts}", "", f"![contrast]({os.path.basename(path)})", ""]
  if any(r.pretrain_heldout_error is not None for r in rows):
    from jaxdiv.report.imbalance import heldout_figure, heldout_lines
    scatter = heldout_figure(with_average(rows), os.path.join(out_dir, "heldout_vs_downstream.png"))
    lines += heldout_lines(rows) + [f"![pre-training vs downstream error]({os.path.basename(scatter)})", ""]
  lines += ["## Train accuracy beside probe error (under-training shows at the high-K end)", "",
            "| stage | N | K | n | train acc | " + " | ".join(t for t in errors if t != AVERAGE) + " |",
            "|---" * (5 + len(errors) - 1) + "|"]
  tasks = [t for t in errors if t != AVERAGE]
  if tasks:
    first = tasks[0]
    for name in ("chance", "random init"):
      lines.append(f"| {name} | – | – | – | – | " + " | ".join(_fmt(floor.get(t, {}).get(name)) for t in tasks) + " |")
    for key in sorted(errors[first], key=lambda k: (k[1], k[2], k[0])):
      lines.append(f"| {key[0]} | {key[1]} | {key[2]} | {key[3]} | {errors[first][key][1]:.2f} | " +
                   " | ".join(_fmt(errors[t].get(key, (None,))[0]) for t in tasks) + " |")
  path = os.path.join(out_dir, "report.md")
  io.write_text_atomic(path, "\n".join(lines) + "\n")
  io.write_json_atomic(os.path.join(out_dir, "table.json"), table)
  return path
