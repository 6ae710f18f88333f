"""The imbalance study's report (`write_imbalance_report`): the gate, error per (s, K), what imbalance does at
each K, whether the best K moves, whether error follows K_eff as balanced runs follow K, and the figures."""

from __future__ import annotations

import os

from jaxdiv import io
from jaxdiv.report.figures import heldout_figure, imbalance_figure
from jaxdiv.report.heldout import heldout_lines
from jaxdiv.report.text import by_task, ci, floors, fmt, header_lines, points_ci, study_inputs
from jaxdiv.results import AVERAGE, with_average
from jaxdiv.stats import imbalance, measured


def gates(rows, levels) -> list[tuple[float, int, dict]]:
  """(s, N, `measured.gate`) of the average task wherever the study ran its gate (`jaxdiv.study.factor_gate_specs`):
  2x steps against 1x, same seed, the tolerance from that s's own seed SD."""
  average = by_task(rows).get(AVERAGE, [])
  out = []
  for s in levels:
    swept = measured.curves(average, stage="sweep", imbalance=s)
    out += [(s, total, measured.gate(swept[total], curve))
            for total, curve in measured.curves(average, stage="gate", imbalance=s).items() if total in swept]
  return out


def gate_lines(checked: list[tuple[float, int, dict]]) -> list[str]:
  """The gate table and its verdict per (s, N)."""
  lines = ["## Convergence gate (2x steps, first seed; passes where |change| <= 1.96·√2·(pooled seed SD at that "
           "s), at least 1 point)", ""]
  if not checked:
    return lines + ["gate not run", ""]
  lines += ["| s | N | K | n̄ | error 1x | error 2x | change | tolerance | passes |", "|---" * 9 + "|"]
  for s, total, gate in checked:
    for c in gate["checks"]:
      lines.append(f"| {s:g} | {total} | {c['K']} | {c['n']} | {c['error_1x']:.3f} | {c['error_2x']:.3f} | "
                   f"{100 * c['change']:+.1f} pt | {100 * c['tolerance']:.1f} pt | "
                   f"{'yes' if c['passes'] else 'no'} |")
  verdicts = [f"s = {s:g}, N = {total} {'passes' if gate['passes'] else 'FAILS'}" for s, total, gate in checked]
  return lines + ["", "Gate: " + ", ".join(verdicts) + ".", ""]


def cell_lines(total: int, table: list[dict], floor: dict) -> list[str]:
  """Error per (s, K) at one budget, with the floors."""
  lines = [f"## N = {total}, average task: error per (s, K) (seed mean, 95% t CI)", "",
           f"Floors: chance {fmt(floor.get('chance'))}, random init {fmt(floor.get('random init'))}.", "",
           "| s | K | n̄ | K_eff | error | 95% CI | pre-training held-out error |", "|---" * 7 + "|"]
  for c in table:
    lines.append(f"| {c['imbalance']:g} | {c['K']} | {c['n']} | {fmt(c['K_eff'], '.1f')} | {c['error']:.3f} | "
                 f"{ci(c['ci95'])} | {fmt(c['pretrain_heldout_error'])} |")
  return lines


def effect_lines(effects: list[dict]) -> list[str]:
  """What imbalance does at each K, paired over seeds."""
  lines = ["", "### What imbalance does at each K: err(K, s) − err(K, 0), paired over seeds (points)", "",
           "| s | K | change | 95% CI | reading |", "|---" * 5 + "|"]
  for e in effects:
    change = None if e["difference"] is None else 100 * e["difference"]
    lines.append(f"| {e['imbalance']:g} | {e['K']} | {fmt(change, '+.1f')} | {points_ci(e['ci95'])} | {e['verdict']} |")
  return lines


def best_k_lines(best: list[dict]) -> list[str]:
  """Whether the best K moves with s: the regret of the balanced-best K and the best K's margin."""
  lines = ["", "### Does the best K move? (regret at s of the K best at s = 0; margin of the best K over the "
           "runner-up; paired over seeds, points)", "",
           "| s | best K | balanced-best K | regret | 95% CI | reading | runner-up K | margin | 95% CI |",
           "|---" * 9 + "|"]
  for b in best:
    lines.append(f"| {b['imbalance']:g} | {b['best_K']} | {b['balanced_best_K']} | "
                 f"{fmt(None if b['regret'] is None else 100 * b['regret'], '+.1f')} | "
                 f"{points_ci(b['regret_ci95'])} | {b['verdict']} | {fmt(b['runner_up_K'], 'd')} | "
                 f"{fmt(None if b['margin'] is None else 100 * b['margin'], '+.1f')} | "
                 f"{points_ci(b['margin_ci95'])} |")
  return lines


def keff_lines(fits: dict) -> list[str]:
  """Whether error follows K_eff the way balanced runs follow K."""
  if fits.get("status") == "too few cells":
    return []
  lines = ["", "### Does error follow K_eff the way balanced runs follow K?", "",
           f"A quadratic in ln K and one in ln K_eff, each fitted to all {fits['cells']} cells (seed means):",
           "", "| x | RMSE (points) | AICc |", "|---" * 3 + "|"]
  for name in ("K", "K_eff"):
    pooled = fits[f"pooled_{name}"]
    lines.append(f"| ln {name} | {100 * pooled['rmse']:.2f} | {pooled['aicc']:.1f} |")
  lines.append(f"\nΔAICc (K_eff − K) = {fits['delta_aicc']:+.1f} (negative: K_eff explains the cells better).")
  curve = fits.get("balanced_curve")
  if curve:
    lines += ["", f"The balanced curve (s = 0, K = {curve['K_range'][0]}..{curve['K_range'][1]}) predicting "
              "the imbalanced cells: RMSE " + ", ".join(
                  f"from {name} {100 * curve[name]['rmse']:.2f} points ({curve[name]['extrapolated']} cells "
                  "outside the balanced K range)" for name in ("K", "K_eff")) + "."]
  return lines


def per_task_lines(rows, summary: dict, levels: list) -> list[str]:
  """Per task: the change at the largest s against s = 0, and the best K per s."""
  ks = sorted({r.K for r in rows if r.stage == "sweep"})
  lines = ["## Per task: change at s = max against s = 0 (points, paired 95% CI) and the best K per s", "",
           "| task | N | " + " | ".join(f"K = {k}" for k in ks) + " | best K per s |", "|---" * (3 + len(ks)) + "|"]
  for task, per_n in summary["tasks"].items():
    for total, parts in per_n.items():
      top = [e for e in parts["effects"] if e["imbalance"] == max(levels)]
      best = ", ".join(f"s={b['imbalance']:g}: {b['best_K']}" for b in parts["best_k"])
      lines.append(f"| {task} | {total} | " + " | ".join(
          f"{100 * e['difference']:+.1f} {points_ci(e['ci95'])}" for e in top) + f" | {best} |")
  return lines


def write_imbalance_report(workdir: str, probe: str = "ridge") -> str:
  """`report/report.md` of an imbalance study: gate, per-cell errors, effects, best K per s, the K_eff
  fits, the pre-training/downstream correlation, and figures."""
  meta, rows, out_dir = study_inputs(workdir, probe)
  tasks = by_task(rows)
  levels = sorted({r.imbalance for r in rows if r.stage == "sweep"})
  budgets = sorted({r.N for r in rows if r.stage == "sweep"})
  floor = floors(rows, probe)
  lines = ["# jaxdiv imbalance study", ""] + header_lines(meta)
  lines += [f"- **design**: N = {budgets}, K = {meta.get('k_values')}, imbalance s = {levels} (class k of the K "
            "gets a share ∝ (k + 1)^-s, N exact, every class >= 1 image), paired seeds", ""]
  checked = gates(rows, levels)
  failed = [f"s = {s:g}, N = {total}" for s, total, gate in checked if not gate["passes"]]
  if failed:
    lines += [f"**Under-trained**: 2x steps moved the average error beyond tolerance at {'; '.join(failed)}. No "
              "comparison below is a finding: retrain with more steps (train.epochs / train.min_steps) before "
              "reading it.", ""]
  lines += gate_lines(checked)
  summary: dict = {"budgets": budgets, "imbalances": levels, "gate_failed_at": failed, "tasks": {}}
  for total in budgets:
    for task, task_rows in tasks.items():
      table = imbalance.cell_table(task_rows, total)
      parts = {"cells": table, "effects": imbalance.imbalance_effects(task_rows, total),
               "best_k": imbalance.best_k_by_imbalance(task_rows, total), "keff_fits": imbalance.keff_fits(table)}
      summary["tasks"].setdefault(task, {})[total] = parts
      if task == AVERAGE:
        figure = imbalance_figure(task, table, os.path.join(out_dir, f"imbalance_N{total}_{task}.png"))
        lines += (cell_lines(total, table, floor.get(task, {})) + effect_lines(parts["effects"])
                  + best_k_lines(parts["best_k"]) + keff_lines(parts["keff_fits"])
                  + ["", f"![error vs K and K_eff]({os.path.basename(figure)})", ""])
  lines += per_task_lines(rows, summary, levels) + [""] + heldout_lines(rows, imbalanced=True)
  scatter = heldout_figure(with_average(rows), os.path.join(out_dir, "heldout_vs_downstream.png"),
                           colour_by="imbalance")
  lines += [f"![pre-training vs downstream error]({os.path.basename(scatter)})", ""]
  path = os.path.join(out_dir, "report.md")
  io.write_text_atomic(path, "\n".join(lines) + "\n")
  io.write_json_atomic(os.path.join(out_dir, "summary.json"), summary)
  return path
