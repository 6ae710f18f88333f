"""The report section every study with pre-training held-out errors gets: does that error track the
downstream error?"""

from __future__ import annotations

from jaxdiv.report.text import by_task, ci, fmt
from jaxdiv.stats import imbalance


def heldout_lines(rows, imbalanced: bool = False) -> list[str]:
  """The correlation table: Spearman(pre-training held-out error, downstream error) across K at each N."""
  table = imbalance.spearman_by_budget(by_task(rows), imbalanced)
  if not table:
    return []
  across = "every (s, K) cell" if imbalanced else "K"
  lines = ["## Does pre-training error track downstream error?", "",
           f"Spearman's rho between the pre-training held-out error (each run's own task: its K classes, images "
           f"its subset does not hold) and the probe's test error, across {across} at each N: computed within each "
           "seed, averaged, with a Student-t 95% interval over seeds. The paper's theory assumes the first bounds "
           "the second: a high positive rho supports it; near 0 or negative is a finding against it.", "",
           "| task | N | points | seeds | rho | 95% CI |", "|---" * 6 + "|"]
  for c in table:
    lines.append(f"| {c['task']} | {c['N']} | {c['points']} | {c['seeds']} | {fmt(c['rho'], '+.2f')} | "
                 f"{ci(c['ci95'], '+.2f')} |")
  return lines + [""]
