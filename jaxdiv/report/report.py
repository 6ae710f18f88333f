"""`jaxdiv report` for a K*-invariance study: report.md from the results table and the bound-model fit, one
function per section, composed by `write_report`; the figures are drawn by `jaxdiv.report.figures`.
"""

from __future__ import annotations

import os
from collections import defaultdict

import numpy as np

from jaxdiv import io
from jaxdiv.bound.analysis import load_fits
from jaxdiv.report.figures import contrast_figure, heatmap_figure, heldout_figure, ucurve_figure
from jaxdiv.report.heldout import heldout_lines
from jaxdiv.report.text import as_number, ci, fitted_k, floors, fmt, header_lines, points, yes_no
from jaxdiv.results import AVERAGE, GRID_STAGES, ResultRow, read_rows, with_average
from jaxdiv.stats import measured


def train_accuracy(row: ResultRow) -> float:
  """A run's last train accuracy; nan when unknown (0.0 is a real value, not a missing one)."""
  return np.nan if row.train_accuracy is None else row.train_accuracy


def mean_errors(rows, probe: str, mode: str = "class") -> dict:
  """{task: {(stage, N, K, n): (mean error, mean train accuracy, seeds)}} over seeds, the average task
  included (`results.with_average`: only cells that every task has)."""
  rows = [r if isinstance(r, ResultRow) else ResultRow.from_dict(r) for r in rows]
  grouped = defaultdict(lambda: defaultdict(list))
  for r in with_average([r for r in rows if r.probe == probe]):
    if r.mode == mode:
      grouped[r.task][(r.stage, r.N, r.K, r.n)].append(r)
  return {task: {key: (float(np.mean([r.error for r in rs])), float(np.mean([train_accuracy(r) for r in rs])),
                       len(rs))
                 for key, rs in cells.items()}
          for task, cells in grouped.items()}


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


def band_lines(average) -> list[str]:
  """Which K at each N: the band of K as good as the best."""
  lines = []
  for band in average.band:
    if band["band_K"]:
      lines.append(f"- **Which K at N = {band['N']}?** (average task) K = {', '.join(map(str, band['band_K']))} "
                   f"are as good as the best (mean error within the 95% CI of the best K = {band['best_K']}'s "
                   f"{band['best_error']:.3f}, i.e. <= {band['threshold']:.3f})")
    else:
      lines.append(f"- **Which K at N = {band['N']}?** (average task) the best measured K is {band['best_K']} "
                   f"({band['best_error']:.3f}); no band with one seed")
  return lines


def regret_lines(prediction, average_row) -> list[str]:
  if not (prediction and average_row and average_row.get("predicted_error") is not None):
    return []
  return [f"- **Regret of the predicted K at N = {average_row['N']}**: "
          f"{average_row['gap_to_best_points']:+.1f} points against the grid's best K = {average_row['best_K']} "
          f"(95% CI {ci(average_row.get('gap_to_best_ci95'), '+.1f')})"]


def best_k_lines(average) -> list[str]:
  lines = []
  for best in average.best_k:
    interval = f"95% CI {best['K_ci95'][0]:.0f}–{best['K_ci95'][1]:.0f}" if best["K_ci95"] else "no CI (one seed)"
    edge = " (at the grid's edge: the true optimum may lie beyond)" if best["at_edge"] else ""
    lines.append(f"- **Best K at N = {best['N']}** (average task, quadratic vertex in ln K): K* = "
                 f"{best['K_star']:.0f} ({interval}), n* = {best['n_star']:.0f}, K*/n* = {best['ratio']:.3g}{edge}")
  return lines


def invariance_lines(average, meta: dict) -> list[str]:
  """The slope of ln K* on ln N and the bound model's test, the training-length check and the power preview."""
  slope = average.slope
  lines = [f"- **Is K/n N-invariant?** {slope.get('verdict')}: slope of ln K* on ln N = "
           f"{fmt(slope.get('slope'), '.2f')} (95% CI {ci(slope.get('slope_ci95'), '.2f')}; an invariant K/n "
           f"gives 0.5, and a CI inside 0.5 ± 0.15 counts as invariant). {slope.get('message', '')}. "
           f"Bound-model test beside it: "
           f"{average.invariance.get('verdict')}"
           + (f" (implied exponent β/(α + β) = {average.invariance['exponent']:.2f}, 95% CI "
              f"{ci(average.invariance['exponent_ci95'], '.2f')}; β − α = "
              f"{average.invariance['beta_minus_alpha']:.2f})"
              if "exponent" in average.invariance else "")]
  longer = average.slope_2x
  if longer:
    where = "; ".join(f"N = {b['N']}: K = {', '.join(map(str, b['K']))} at 2x, K* = {b['K_star']:.0f} "
                      f"{ci(b['K_ci95'], '.0f')}" for b in longer["longer"])
    lines.append(f"- **Training-length check** (each gated budget's K* from its 2x-steps curve, with the 1x "
                 f"grid's noise; {where}): slope {fmt(longer.get('slope'), '.2f')} (95% CI "
                 f"{ci(longer.get('slope_ci95'), '.2f')}): {longer.get('verdict')}")
  preview = meta.get("power")
  if preview and slope.get("slope_ci95"):
    low, high = slope["slope_ci95"]
    truths = preview["truths"]  # a study.json written before the slope-1 truth holds two
    invariant = next(t for t in truths.values() if t["slope"] == 0.5)
    odds = "; ".join(f"{t['verdicts'].get('inconclusive', 0):.0%} under slope {t['slope']:g}" for t in truths.values())
    lines.append(f"- **Power, declared before the data** (`--plan --power`, {preview['prior_source']} prior: seed SD "
                 f"{100 * as_number(preview['prior']['seed_sd']):.1f} pt): expected slope CI half-width "
                 f"{invariant['slope_ci_half_width']:.2f}, achieved {(high - low) / 2:.2f}; P(inconclusive) "
                 f"{odds} (0.5 = invariant K/n)")
  return lines


def interior_lines(fits: dict) -> list[str]:
  interior = defaultdict(list)
  for task, fit in sorted(fits.items(), key=lambda item: (item[0] == AVERAGE, item[0])):
    for check in fit.interior:
      interior[check["verdict"]].append(f"{task} N={check['N']}")
  if not interior:
    return []
  return ["- **Interior optimum?** (best interior K against each end; yes = both ends worse with 95% "
          "confidence; paired seeds where every K has the same 3+ seeds): "
          + "; ".join(f"{verdict}: {', '.join(where)}" for verdict, where in interior.items())]


def prediction_lines(prediction, average_row, meta: dict) -> list[str]:
  if not (prediction and average_row):
    return []
  fitted_on = f" (bound model fitted on N = {meta['fit_N']})" if meta.get("fit_N") else ""
  if average_row.get("predicted_error") is None:
    return [f"- **Prediction at N = {average_row['N']}**{fitted_on}: {prediction.get('message', '')}"]
  return [f"- **Prediction at N = {average_row['N']}**{fitted_on}: {prediction.get('message', '')}. Average error "
          f"{average_row['predicted_error']:.3f} vs the grid's best {average_row['best_error']:.3f} (K = "
          f"{average_row['best_K']}): {average_row['gap_to_best_points']:+.1f} points (95% CI "
          f"{ci(average_row.get('gap_to_best_ci95'), '+.1f')}); vs the standard K = {average_row['standard_K']} "
          f"({average_row['standard_error']:.3f}): {average_row['gain_vs_standard_points']:+.1f} points better (95% CI "
          f"{ci(average_row.get('gain_vs_standard_ci95'), '+.1f')}); {average_row['seeds']} seeds per K."]


def model_free_lines(rows, meta: dict) -> list[str]:
  """The model-free prediction at the validation budget from the fitted budgets' vertices, beside the bound
  model's line above: the same protocol (fit small, predict large) without the bound model."""
  total, fitted = meta.get("validation_N"), meta.get("fit_N") or meta.get("sweep_N") or []
  if not total:
    return []
  average = [r for r in with_average(rows) if r.task == AVERAGE and not r.imbalance]
  curves = measured.curves(average)
  best = [measured.best_k(curves[n]) for n in fitted if n in curves and len(curves[n].K) >= 3]
  p = measured.extrapolate_k_star(best, total)
  if p["status"] != "ok":
    return [f"- **Model-free prediction at N = {total}** (ln K* linear in ln N through the vertices at N = {fitted}): "
            f"none ({p['message']})"]
  held = measured.best_k(curves[total]) if total in curves and len(curves[total].K) >= 3 else None
  measured_text = "" if held is None else (
      f"; measured there: {held['K_star']:.0f} {ci(held['K_ci95'], '.0f')}, ratio {p['K_star'] / held['K_star']:.2f}, "
      f"{'inside' if p['K_ci95'] and p['K_ci95'][0] <= held['K_star'] <= p['K_ci95'][1] else 'outside'} the interval")
  return [f"- **Model-free prediction at N = {total}** (ln K* linear in ln N through the vertices at N = {fitted}, "
          f"slope {p['slope']:.2f}): K* = {p['K_star']:.0f} {ci(p['K_ci95'], '.0f')}{measured_text}"]


def contrast_lines(average) -> list[str]:
  lines = []
  for check in (average.contrast if average else []):
    rhos = ", ".join(f"{r:+.2f}" for r in check["spearman_per_seed"])
    lines.append(f"- **Contrast case at N = {check['N']}** (labels from k-means of one fixed sample): "
                 f"{check['verdict']} in K (Spearman(ln K, error) per seed: {rhos}; monotone means every seed <= "
                 f"{check['threshold']})")
  return lines


def answers(fits: dict, meta: dict, table: list[dict], rows=()) -> list[str]:
  """The report's first lines: the questions of the study answered in words, with intervals."""
  verdict = meta.get("verdict", {})
  lines = ["## Answers", ""] + ([f"- **Verdict**: {verdict.get('message', '')}"] if verdict else [])
  average = fits.get(AVERAGE)
  prediction = meta.get("prediction")
  average_row = next((r for r in table if r["task"] == AVERAGE), None)
  lines += band_lines(average) if average else []
  lines += regret_lines(prediction, average_row)
  lines += best_k_lines(average) + invariance_lines(average, meta) if average else []
  lines += interior_lines(fits) + prediction_lines(prediction, average_row, meta) + model_free_lines(rows, meta)
  lines += contrast_lines(average)
  return lines + [""]


def noise_lines(fits: dict) -> list[str]:
  """Where each budget's noise comes from (`measured.noise_decomposition`), in points: what to buy next."""
  lines = ["", "## Where the noise comes from (points of error; seed SD: network to network on the same test "
           "images, paired: with the seed effect every K shares removed; test SD: the probe's test-set sampling "
           "SD, a bootstrap over test images)", "",
           "| task | N | seeds | seed SD | paired SD | test-set SD | more precision from |", "|---" * 7 + "|"]
  for task, fit in fits.items():
    for c in fit.noise:
      sds = " | ".join(fmt(points(c[k]), ".2f") for k in ("seed_sd", "paired_sd", "test_sd"))
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
                     f"{100 * c['change']:+.1f} pt | {100 * c['tolerance']:.1f} pt | {yes_no(c['passes'])} |")
  average = fits.get(AVERAGE)
  if average:
    lines += ["", "The study's gate is the average task's: " + ", ".join(
        f"N = {g['N']} {'passes' if g['passes'] else 'FAILS'} (seed SD {fmt(points(g.get('seed_sd')), '.1f')} pt, "
        f"tolerance {fmt(points(g.get('tolerance')), '.1f')} pt)" for g in average.gate) + "."]
  return lines + [""]


def standard_table_lines(table: list[dict], floor: dict) -> list[str]:
  lines = ["## Standard vs grid-searched vs predicted (test error at the validation N, lower is better)", ""]
  if not table:
    return lines + ["(no validation runs in this workdir)"]
  lines += ["| task | chance | random init | standard K | err | best K (grid) | err | predicted K | err | "
            "predicted vs standard (points, 95% CI) | predicted vs grid best (points, 95% CI) | "
            "interior optimum at sweep N (measured / fit) |",
            "|---" * 12 + "|"]
  for r in table:
    f = floor.get(r["task"], {})
    lines.append(f"| {r['task']} | {fmt(f.get('chance'))} | {fmt(f.get('random init'))} | {r['standard_K']} | "
                 f"{r['standard_error']:.3f} | {r['best_K']} | {r['best_error']:.3f} | "
                 f"{fmt(r['predicted_K'], 'd')} | "
                 f"{fmt(r['predicted_error'])} | {fmt(r.get('gain_vs_standard_points'), '+.1f')} "
                 f"{ci(r.get('gain_vs_standard_ci95'), '+.1f')} | {fmt(r.get('gap_to_best_points'), '+.1f')} "
                 f"{ci(r.get('gap_to_best_ci95'), '+.1f')} | "
                 f"{yes_no(r['measured_interior'])} / {yes_no(not r['boundary'])} |")
  return lines


def best_k_table_lines(fits: dict) -> list[str]:
  lines = ["", "## Best K per N, measured (quadratic vertex in ln K; bootstrap from the seed SD of K-to-K "
           "differences, paired where every K has the same 3+ seeds) and fitted "
           "(bound model)", "",
           "| task | N | K* measured | 95% CI | K*/n* | K* fitted | 95% CI (ln K, clipped) | share of replicates "
           "interior | grid-best K | family | grad norm |", "|---" * 11 + "|"]
  for task, fit in fits.items():
    fitted = {m["N"]: m for m in fit.measured}
    for best in fit.best_k:
      m = fitted.get(best["N"], {})
      lines.append(f"| {task} | {best['N']} | {best['K_star']:.1f}{' (edge)' if best['at_edge'] else ''} | "
                   f"{ci(best['K_ci95'], '.0f')} | {best['ratio']:.3g} | {fitted_k(m.get('K_star'), best['N'])} | "
                   f"{ci(m.get('K_ci95'), '.0f')} | {fmt(m.get('interior_share'), '.2f')} | {best['grid_best_K']} | "
                   f"{fit.family} | {fit.grad_norm:.1e} |")
  return lines


def interior_table_lines(fits: dict) -> list[str]:
  lines = ["", "## Interior optimum (error at the end minus at the best interior K; 95% CIs from paired seeds "
           "where every K has the same 3+ seeds, else the pooled seed SD)",
           "", "| task | N | best interior K | low end K | diff | 95% CI | high end K | diff | 95% CI | differences | "
           "verdict |", "|---" * 11 + "|"]
  for task, fit in fits.items():
    for c in fit.interior:
      if "best_interior_K" in c:
        lines.append(f"| {task} | {c['N']} | {c['best_interior_K']} | {c['low_end_K']} | "
                     f"{c['low_minus_best']:+.3f} | {ci(c['low_ci95'])} | {c['high_end_K']} | "
                     f"{c['high_minus_best']:+.3f} | {ci(c['high_ci95'])} | {c.get('differences') or '-'} | "
                     f"{c['verdict']} |")
  return lines


def huber_lines(fits: dict) -> list[str]:
  lines = ["", "## K* at each sweep N against the Huber delta of the fit (sensitivity)", ""]
  if not fits:
    return lines
  deltas = [h["delta"] for h in next(iter(fits.values())).huber]
  lines += ["| task | " + " | ".join(f"delta = {d:g}" for d in deltas) + " |", "|---" * (1 + len(deltas)) + "|"]
  for task, fit in fits.items():
    cells = (", ".join(f"N={n}: {fitted_k(k, int(n))}" for n, k in h["K_star"].items()) for h in fit.huber)
    lines.append(f"| {task} | " + " | ".join(cells) + " |")
  return lines


def figure_lines(errors: dict, fits: dict, out_dir: str) -> list[str]:
  """Per task a heatmap over (log K, log n) and the U-curves with the fit."""
  lines = ["", "## Figures", ""]
  for task in sorted(errors, key=lambda t: (t == AVERAGE, t)):
    safe = task.replace("/", "_")
    cells = {k: v for k, v in errors[task].items() if k[0] in (*GRID_STAGES, "validate")}
    if not cells:
      continue
    heat = heatmap_figure(task, cells, os.path.join(out_dir, f"heatmap_{safe}.png"))
    curve = ucurve_figure(task, cells, fits.get(task), os.path.join(out_dir, f"ucurve_{safe}.png"))
    lines += [f"### {task}", "", f"![heatmap]({os.path.basename(heat)}) ![U-curve]({os.path.basename(curve)})", ""]
  return lines


def contrast_section(rows, fits: dict, floor: dict, out_dir: str) -> list[str]:
  """Class labels against k-means labels of one fixed sample, where the study ran the contrast case."""
  by_task = defaultdict(list)
  for r in with_average(rows):
    if r.stage == "sweep":
      by_task[r.task].append(r)
  contrast_tasks = [t for t, rs in by_task.items() if any(r.mode == "cluster" for r in rs)]
  if not contrast_tasks:
    return []
  lines = ["## The contrast case: class labels vs k-means labels of one fixed sample (same N, same steps)", ""]
  for task in sorted(contrast_tasks, key=lambda t: (t != AVERAGE, t)):
    safe = task.replace("/", "_")
    path = contrast_figure(task, [r for r in by_task[task] if r.mode == "class"],
                           [r for r in by_task[task] if r.mode == "cluster"], floor.get(task, {}),
                           os.path.join(out_dir, f"contrast_{safe}.png"))
    verdicts = "; ".join(f"N={c['N']}: {c['verdict']} (Spearman per seed "
                         f"{', '.join(f'{x:+.2f}' for x in c['spearman_per_seed'])})"
                         for c in (fits[task].contrast if task in fits else []))
    lines += [f"### {task}: {verdicts}", "", f"![contrast]({os.path.basename(path)})", ""]
  return lines + contrast_agreement(rows, by_task.get(AVERAGE, []))


def contrast_agreement(rows, average_rows) -> list[str]:
  """Per (N, K): the space k-means grouped the sample in, how far its labels agree with the sample's true
  classes (NMI beside its chance level), how well that space groups a labelled probe of the pool by class
  (the same two), and the average task's error with cluster labels beside class labels; means over seeds.
  Only for contrast runs that recorded their agreement."""
  agreement = defaultdict(dict)
  for r in rows:
    if r.mode == "cluster" and r.stage == "sweep" and r.cluster_nmi is not None:
      agreement[(r.N, r.K)][r.seed] = r
  if not agreement:
    return []
  errors = defaultdict(list)
  for r in average_rows:
    errors[(r.mode, r.N, r.K)].append(r.error)
  mean = lambda xs: f"{np.mean(xs):.3f}" if xs else "–"

  def nmi(by_seed, field):
    values = [getattr(r, field) for r in by_seed.values() if getattr(r, field) is not None]
    return f"{np.mean(values):.2f}" if values else "–"
  lines = ["### How far the cluster labels agree with the true classes", "",
           "NMI of the sample's cluster labels with its true classes, beside the NMI of the same cluster sizes "
           "shuffled (chance; a sample of N images from thousands of classes holds about one per class, so its "
           "NMI is high by chance alone), and the NMI of k-means in the same space on a labelled probe of the "
           "pool (64 classes × 16 images), beside its chance level: whether the space groups images by class.",
           "", "| N | K | space | NMI, sample | chance | NMI, labelled probe | chance | error, cluster labels | "
           "error, class labels |", "|---" * 9 + "|"]
  for (total, k), by_seed in sorted(agreement.items()):
    spaces = sorted({(r.cluster_features or "pixels") + (f", sample of {r.cluster_sample_classes} classes"
                                                        if r.cluster_sample_classes else "")
                     for r in by_seed.values()})
    lines.append(f"| {total} | {k} | {', '.join(spaces)} | {nmi(by_seed, 'cluster_nmi')} | "
                 f"{nmi(by_seed, 'cluster_nmi_chance')} | {nmi(by_seed, 'space_nmi')} | "
                 f"{nmi(by_seed, 'space_nmi_chance')} | {mean(errors[('cluster', total, k)])} | "
                 f"{mean(errors[('class', total, k)])} |")
  return lines + [""]


def heldout_section(rows, out_dir: str) -> list[str]:
  if not any(r.pretrain_heldout_error is not None for r in rows):
    return []
  scatter = heldout_figure(with_average(rows), os.path.join(out_dir, "heldout_vs_downstream.png"))
  return heldout_lines(rows) + [f"![pre-training vs downstream error]({os.path.basename(scatter)})", ""]


def train_accuracy_lines(errors: dict, floor: dict) -> list[str]:
  """Every cell's train accuracy beside its probe errors: under-training shows at the high-K end."""
  tasks = [t for t in errors if t != AVERAGE]
  lines = ["## Train accuracy beside probe error (under-training shows at the high-K end)", "",
           "| stage | N | K | n | train acc | " + " | ".join(tasks) + " |", "|---" * (5 + len(errors) - 1) + "|"]
  if not tasks:
    return lines
  first = tasks[0]
  for name in ("chance", "random init"):
    lines.append(f"| {name} | – | – | – | – | " + " | ".join(fmt(floor.get(t, {}).get(name)) for t in tasks) + " |")
  for key in sorted(errors[first], key=lambda k: (k[1], k[2], k[0])):
    lines.append(f"| {key[0]} | {key[1]} | {key[2]} | {key[3]} | {errors[first][key][1]:.2f} | " +
                 " | ".join(fmt(errors[t].get(key, (None,))[0]) for t in tasks) + " |")
  return lines


def validation_lines(table: list[dict]) -> list[str]:
  """The out-of-sample validation table (`jaxdiv validate`, validation.json) as markdown."""
  def k(value, interval=None):
    text = "–" if value is None else f"{value:.0f}"
    return text + (f" [{interval[0]:.0f}, {interval[1]:.0f}]" if interval else "")
  lines = ["| method | fitted N | held-out N | predicted K* [95%] | measured vertex [95%] | ratio | covered | "
           "regret of the nearest grid K (points) [95%] |", "|---" * 8 + "|"]
  for r in table:
    if r["status"] != "ok":
      lines.append(f"| {r['method']} | {r['fitted_N']} | {r['N']} | {r['status']}: {r.get('message') or ''} | "
                   f"{k(r['measured_K'], r['measured_ci95'])} | – | – | – |")
      continue
    ci = r["regret_ci95"]
    regret_text = "0 (the grid's best)" if r["regret"] == 0 else (
        f"{100 * r['regret']:+.1f}" + (f" [{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]" if ci else ""))
    lines.append(f"| {r['method']} | {r['fitted_N']} | {r['N']} | {k(r['predicted_K'], r['predicted_ci95'])} | "
                 f"{k(r['measured_K'], r['measured_ci95'])}{' (edge)' if r['measured_at_edge'] else ''} | "
                 f"{r['ratio']:.2f} | {'yes' if r['covered'] else 'no'} | {regret_text} (K = {r['K_used']}) |")
  return lines


def validation_section(workdir: str) -> list[str]:
  """Each prediction method checked out of sample, where `jaxdiv validate` has written validation.json."""
  saved = io.read_json_if_exists(os.path.join(workdir, "validation.json"))
  if not saved:
    return []
  return ["", f"## Out-of-sample validation of each prediction method ({saved['task']} task; `jaxdiv validate`)", "",
          "Each budget held out in turn and predicted from the others; covered: the held-out budget's measured "
          "vertex lies inside the prediction's 95% interval.", ""] + validation_lines(saved["rows"])


def write_report(workdir: str, probe: str = "ridge", meta: dict | None = None) -> str:
  """Write `report.md` and its figures into `workdir/report/`; returns the report's path."""
  meta = {**(io.read_json_if_exists(os.path.join(workdir, "study.json")) or {}), **(meta or {})}
  rows = [r for r in read_rows(workdir) if r.probe == probe]
  if not rows:
    raise FileNotFoundError(f"{workdir} has no results.jsonl rows: run `jaxdiv sweep` or `jaxdiv demo` first")
  fits = load_fits(workdir) if io.exists(os.path.join(workdir, "fit.json")) else {}
  out_dir = os.path.join(workdir, "report")
  io.makedirs(out_dir)
  errors, floor = mean_errors(rows, probe), floors(rows, probe)
  table = summary_table(rows, errors, fits, meta)
  lines = (["# jaxdiv study report", ""] + header_lines(meta) + [""] + answers(fits, meta, table, rows)
           + gate_lines(fits)
           + standard_table_lines(table, floor) + best_k_table_lines(fits) + interior_table_lines(fits)
           + validation_section(workdir) + noise_lines(fits) + huber_lines(fits) + figure_lines(errors, fits, out_dir)
           + contrast_section(rows, fits, floor, out_dir) + heldout_section(rows, out_dir)
           + train_accuracy_lines(errors, floor))
  path = os.path.join(out_dir, "report.md")
  io.write_text_atomic(path, "\n".join(lines) + "\n")
  io.write_json_atomic(os.path.join(out_dir, "table.json"), table)
  return path
