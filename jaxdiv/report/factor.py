"""The report of a factor study: n* per level with its interval, band and edge check, the slope of ln n* on
ln(level) with its verdict, the gate, and one U-curve per level. The imbalance factor keeps its own report
(`jaxdiv.report.imbalance`), which also fits error against the effective class count.
"""

from __future__ import annotations

import os

from jaxdiv import factor, io
from jaxdiv.report.figures import factor_figure
from jaxdiv.report.text import ci, floors, fmt, header_lines, study_inputs
from jaxdiv.results import AVERAGE, with_average
from jaxdiv.stats import measured

REPLICATES = 1000
# Designs per class "all" (0) enters the slope as the pool's median design count (19 for the glyph pool).
ALL_DESIGNS = "median designs per class"


def level_x(name: str, level, median_designs: float | None) -> float | None:
  """A level's value on the slope's ln axis; None where it has no place there (spread 0)."""
  if name == "data.designs_per_class" and level == 0:
    return median_designs
  return float(level) if float(level) > 0 else None


def level_label(name: str, level) -> str:
  if name == "data.designs_per_class" and level == 0:
    return "all"
  return f"{level:g}"


def level_curves(rows, name: str, levels: list, stage="sweep") -> dict:
  """{level: {N: Curve}} of the average task's class runs."""
  average = [r for r in with_average(rows) if r.task == AVERAGE]
  return {level: measured.curves(average, stage=stage, where={factor.FACTORS[name]: level}) for level in levels}


def level_summary(curves: dict, levels: list) -> list[dict]:
  """Per (level, N): n* [CI] from the vertex in ln K (each level its own bootstrap stream), the band of n as
  good as the best, and whether the optimum is interior."""
  out = []
  for i, level in enumerate(levels):
    for total, curve in sorted(curves[level].items()):
      best = measured.best_k(curve, REPLICATES, seed=i)
      band = measured.as_good_as_best(curve)
      interior = measured.interior_optimum(curve)
      ci = best["K_ci95"]
      out.append({"level": level, "N": total, "best": best, "n_star": best["n_star"],
                  "n_ci95": [total / ci[1], total / ci[0]] if ci else None,
                  "band_n": [total // band["band"][1], total // band["band"][0]] if band.get("band") else None,
                  "interior": interior["verdict"], "grid_best_n": total // best["grid_best_K"],
                  "seeds": best["seeds"]})
  return out


def gate_checks(rows, name: str, levels: list) -> list[tuple]:
  """(level, N, `measured.gate`) wherever the gate retrained runs of that level."""
  swept, gated = level_curves(rows, name, levels), level_curves(rows, name, levels, stage="gate")
  return [(level, total, measured.gate(swept[level][total], curve))
          for level in levels for total, curve in gated[level].items() if total in swept[level]]


def slope_lines(summary: list[dict], name: str, levels: list, median_designs: float | None) -> tuple[list, dict]:
  """The slope of ln n* on ln level per N, with its interval and verdict."""
  lines, slopes = [], {}
  for total in sorted({s["N"] for s in summary}):
    at = [s for s in summary if s["N"] == total]
    placed = [(level_x(name, s["level"], median_designs), s["best"]) for s in at]
    placed = [(x, b) for x, b in placed if x is not None]
    result = measured.factor_slope([b for _, b in placed], [x for x, _ in placed], name)
    slopes[total] = result
    lines.append(f"- **N = {total}: slope of ln n* on ln {name}** = {fmt(result['slope'], '+.2f')} "
                 f"(95% CI {ci(result['slope_ci95'], '+.2f')}): **{result['verdict']}** ({result.get('message', '')})")
  if name == "data.designs_per_class":
    lines.append(f"- \"all\" designs enters the slope at the pool's {ALL_DESIGNS} ({fmt(median_designs, '.0f')}).")
  if name == "data.spread" and 0 in [float(v) for v in levels]:
    lines.append("- spread 0 (the plain design) has no logarithm: it is in the table, not in the slope.")
  return lines, slopes


def longer_training_lines(rows, name: str, levels: list, summary: list[dict], median_designs) -> tuple[list, dict]:
  """The slope again with each level whose gate retrained 3+ K taking its n* from the 2x-steps curve (one
  seed; its interval borrows the 1x grid's K-to-K noise), so a reader sees whether under-training moved the
  verdict."""
  swept, gated = level_curves(rows, name, levels), level_curves(rows, name, levels, stage="gate")
  lines, out = [], {}
  for total in sorted({s["N"] for s in summary}):
    longer = {}
    for i, level in enumerate(levels):
      curve = gated[level].get(total)
      if curve is not None and len(curve.K) >= 3:
        longer[level] = measured.best_k(curve, REPLICATES, seed=i, noise=measured.difference_noise(swept[level][total]))
    if not longer:
      continue
    at = [s for s in summary if s["N"] == total]
    placed = [(level_x(name, s["level"], median_designs), longer.get(s["level"], s["best"])) for s in at]
    placed = [(x, b) for x, b in placed if x is not None]
    result = measured.factor_slope([b for _, b in placed], [x for x, _ in placed], name)
    n_ci = {level: [total / b["K_ci95"][1], total / b["K_ci95"][0]] if b["K_ci95"] else None
            for level, b in longer.items()}  # no interval with one seed
    out[total] = {**result, "longer": {str(level): {"n_star": total / b["K_star"], "n_ci95": n_ci[level]}
                                       for level, b in longer.items()}}
    where = "; ".join(f"{name} = {level_label(name, level)}: n* = {total / b['K_star']:.1f} {ci(n_ci[level], '.1f')}"
                      for level, b in longer.items())
    lines.append(f"- **Training-length check at N = {total}** (n* from the 2x-steps curve where the gate trained 3+ K, "
                 f"one seed, the 1x grid's noise; {where}): slope {fmt(result['slope'], '+.2f')} (95% CI "
                 f"{ci(result['slope_ci95'], '+.2f')}): {result['verdict']}")
  return lines, out


def floor_text(rows, probe: str) -> str:
  """The average task's random-init floor, one per network width (a random network has seen no data, so
  only the width moves it)."""
  widths = sorted({r.width for r in rows if r.stage == "baseline" and r.width is not None})
  if len(widths) <= 1:
    return fmt(floors(rows, probe).get(AVERAGE, {}).get("random init"))
  return ", ".join(f"width {w}: {fmt(floors([r for r in rows if r.width == w], probe)[AVERAGE].get('random init'))}"
                   for w in widths)


def write_factor_report(workdir: str, probe: str = "ridge") -> str:
  """`report/report.md` and `report/summary.json` of a factor study; the imbalance factor's own report."""
  from jaxdiv.train.config import load_workdir_config
  config = load_workdir_config(workdir)
  name, levels = factor.factor_of(config)
  if name == "data.imbalance":
    from jaxdiv.report.imbalance import write_imbalance_report
    return write_imbalance_report(workdir, probe)
  meta, rows, out_dir = study_inputs(workdir, probe)
  median_designs = meta.get("median_designs_per_class")
  curves = level_curves(rows, name, levels)
  summary = level_summary(curves, levels)
  checked = gate_checks(rows, name, levels)
  failed = [f"{name} = {level_label(name, level)}, N = {total}" for level, total, g in checked if not g["passes"]]
  slope_text, slopes = slope_lines(summary, name, levels, median_designs)
  longer_text, longer = longer_training_lines(rows, name, levels, summary, median_designs)
  lines = [f"# jaxdiv factor study: what {name} does to the optimal n", ""] + header_lines(meta)
  lines += [f"- **design**: N = {meta.get('budgets')}, K = {meta.get('k_values')}, {name} = "
            f"{[level_label(name, v) for v in levels]} (base level {level_label(name, meta.get('base_level'))}), "
            f"seeds paired across levels and K", "", "## Answers", ""]
  if failed:
    lines += [f"- **Under-trained** at {'; '.join(failed)}: 2x steps moved the average error beyond tolerance. "
              "No verdict below is a finding there."]
  lines += slope_text + longer_text + [""]
  lines += ["## n* per level (average task)", "", f"Floors (random init, per width): {floor_text(rows, probe)}.", "",
            "| level | N | n* | 95% CI | grid-best n | n as good as the best | interior optimum | seeds | gate |",
            "|---" * 9 + "|"]
  gate_at = {(level, total): g for level, total, g in checked}
  for s in summary:
    gate = gate_at.get((s["level"], s["N"]))
    band = f"{s['band_n'][0]}–{s['band_n'][1]}" if s["band_n"] else "n/a"
    lines.append(f"| {level_label(name, s['level'])} | {s['N']} | {s['n_star']:.1f} | {ci(s['n_ci95'], '.1f')} | "
                 f"{s['grid_best_n']} | {band} | {s['interior']} | {s['seeds']} | "
                 f"{'—' if gate is None else ('passes' if gate['passes'] else 'FAILS')} |")
  lines += ["", "## Errors (average task, seed mean)", "", "| level | N | " + " | ".join(
      f"n = {int(n)}" for n in sorted({int(n) for c in curves.values() for cv in c.values() for n in cv.n})) + " |"]
  all_n = sorted({int(n) for c in curves.values() for cv in c.values() for n in cv.n})
  lines.append("|---" * (2 + len(all_n)) + "|")
  for level in levels:
    for total, curve in sorted(curves[level].items()):
      by_n = dict(zip(curve.n.astype(int), curve.mean))
      lines.append(f"| {level_label(name, level)} | {total} | " + " | ".join(fmt(by_n.get(n)) for n in all_n) + " |")
  lines += ["", "## Convergence gate (2x steps, first seed; passes where |change| <= 1.96·√2·(pooled seed SD), at "
            "least 1 point)", ""]
  if checked:
    lines += ["| level | N | K | n | error 1x | error 2x | change | tolerance | passes |", "|---" * 9 + "|"]
    for level, total, g in checked:
      lines += [f"| {level_label(name, level)} | {total} | {c['K']} | {c['n']} | {c['error_1x']:.3f} | "
                f"{c['error_2x']:.3f} | {100 * c['change']:+.1f} pt | {100 * c['tolerance']:.1f} pt | "
                f"{'yes' if c['passes'] else 'no'} |" for c in g["checks"]]
  else:
    lines.append("gate not run")
  lines.append("")
  for total in sorted({s["N"] for s in summary}):
    labels = {level: level_label(name, level) for level in levels}
    figure = factor_figure(name, curves, labels, total, os.path.join(out_dir, f"factor_N{total}.png"))
    lines += [f"![error against n by {name} at N = {total}]({os.path.basename(figure)})", ""]
  path = os.path.join(out_dir, "report.md")
  io.write_text_atomic(path, "\n".join(lines) + "\n")
  io.write_json_atomic(os.path.join(out_dir, "summary.json"), {
      "factor": name, "levels": levels, "gate_failed_at": failed,
      "per_level": [{k: v for k, v in s.items() if k != "best"} | {"K_star": s["best"]["K_star"]} for s in summary],
      "slopes": {str(total): dict(result) for total, result in slopes.items()},
      "slopes_2x": {str(total): result for total, result in longer.items()}})
  return path
