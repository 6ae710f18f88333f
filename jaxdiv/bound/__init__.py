"""The bound model: fit err(K, n), solve the optimal ratio, predict K at a larger N, preview a design's power.
The model-free statistics beside it live in `jaxdiv.stats`."""

from jaxdiv.bound.analysis import Analysis, analyse, error_matrix, predict_split
from jaxdiv.bound.model import (
                                FAMILIES,
                                Fit,
                                feasible_split,
                                fit_error_model,
                                fit_many,
                                optimal_k,
                                optimal_log_k_numeric,
                                optimal_ratio,
)

__all__ = ["FAMILIES", "Analysis", "Fit", "analyse", "error_matrix", "feasible_split",
           "fit_error_model", "fit_many", "optimal_k", "optimal_log_k_numeric", "optimal_ratio",
           "predict_split"]
