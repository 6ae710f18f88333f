"""Backbones for pre-training."""

from jaxdiv.models.resnet import ResNet, ResNet18, build_model, count_params

__all__ = ["ResNet", "ResNet18", "build_model", "count_params"]
