"""The bound model: fit err(K, n), solve the optimal ratio, predict K at a larger N; k-means contrast case."""

from jaxdiv.bound import measured
from jaxdiv.bound.analysis import Analysis, analyse, error_matrix, predict_split
from jaxdiv.bound.kmeans import clustered_subset, kmeans
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

__all__ = ["FAMILIES", "Analysis", "Fit", "analyse", "clustered_subset", "error_matrix", "feasible_split",
           "fit_error_model", "fit_many", "kmeans", "measured", "optimal_k", "optimal_log_k_numeric", "optimal_ratio",
           "predict_split"]
