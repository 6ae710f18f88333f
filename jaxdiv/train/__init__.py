"""Pre-training: state, steps, the single-run and stacked loops, checkpointing, configs."""

from jaxdiv.train.config import apply_overrides, base_config, load_config
from jaxdiv.train.pretrain import pretrain

__all__ = ["apply_overrides", "base_config", "load_config", "pretrain"]
