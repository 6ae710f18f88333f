"""One study runner: a grid of K at each budget, optionally crossed with one factor (`runner`), and the
study's files: its results read per task, fit.json written and read back for predictions (`files`)."""

from jaxdiv.study.files import fit_study, predict_study, read_results
from jaxdiv.study.runner import (
                                 GATE_STEPS_SCALE,
                                 estimate_factor,
                                 factor_gate_specs,
                                 left_to_train,
                                 level_configs,
                                 mark_finished,
                                 plan,
                                 plan_factor,
                                 plan_study,
                                 plan_total,
                                 refine_ks,
                                 refine_specs,
                                 run,
                                 run_factor_study,
                                 run_study,
)

__all__ = ["GATE_STEPS_SCALE", "estimate_factor", "factor_gate_specs", "fit_study", "left_to_train", "level_configs",
           "mark_finished", "plan", "plan_factor", "plan_study", "plan_total", "predict_study", "read_results",
           "refine_ks", "refine_specs", "run", "run_factor_study", "run_study"]
