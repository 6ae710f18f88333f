"""Model-free statistics of a results table, each able to say no: K* per budget with its interval, the slope
of ln K* on ln N, the as-good-as-best band, the interior-optimum test, the gate, the noise decomposition, the
factor slope (`measured`), and the imbalance study's effects and correlations (`imbalance`). No bound model."""

from jaxdiv.stats import imbalance, measured

__all__ = ["imbalance", "measured"]
