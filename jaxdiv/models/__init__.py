"""Backbones for pre-training."""

from jaxdiv.models.resnet import ResNet, ResNet18, count_params

__all__ = ["ResNet", "ResNet18", "count_params"]
