"""Linear probes on frozen features: closed-form ridge (default) and L-BFGS logistic regression."""

from jaxdiv.probe.features import extract_features
from jaxdiv.probe.logistic import logistic_fit, logistic_probe
from jaxdiv.probe.ridge import ProbeResult, ridge_probe, ridge_probe_runs

__all__ = ["ProbeResult", "extract_features", "logistic_fit", "logistic_probe", "ridge_probe", "ridge_probe_runs"]
