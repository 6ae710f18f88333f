"""ResNet-18 in Flax Linen, used through pure `init`/`apply` so runs can be stacked under `jax.vmap`.

Two stems: "imagenet" (7×7 stride-2 conv + 3×3 max-pool, for 224 px) and "small" (3×3 stride-1 conv,
no pool, for 32 px). `width` scales every stage (64 gives torchvision's resnet18: 11,689,512 parameters
with 1000 classes). The classifier head is zero-initialised, so a head padded to more classes with
masked logits trains exactly like an unpadded one (the multi-run trainer relies on this).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

STAGE_BLOCKS = (2, 2, 2, 2)


class BasicBlock(nn.Module):
  """Two 3×3 convs with a residual; a 1×1 projection shortcut when the shape changes."""
  filters: int
  strides: int
  conv: type
  norm: type
  zero_init_last_scale: bool = True

  @nn.compact
  def __call__(self, x):
    residual = x
    y = self.conv(self.filters, (3, 3), (self.strides, self.strides), padding=((1, 1), (1, 1)))(x)
    y = nn.relu(self.norm()(y))
    y = self.conv(self.filters, (3, 3), padding=((1, 1), (1, 1)))(y)
    y = self.norm(scale_init=nn.initializers.zeros if self.zero_init_last_scale else nn.initializers.ones)(y)
    if residual.shape != y.shape:
      residual = self.conv(self.filters, (1, 1), (self.strides, self.strides), name="proj_conv")(residual)
      residual = self.norm(name="proj_norm")(residual)
    return nn.relu(residual + y)


class ResNet(nn.Module):
  num_classes: int
  stage_blocks: Sequence[int] = STAGE_BLOCKS
  stem: str = "small"
  width: int = 64
  zero_init_last_scale: bool = True
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False, features_only: bool = False):
    """Logits (B, num_classes), or the pooled pre-logits features (B, 8·width) with `features_only`."""
    if self.stem not in ("imagenet", "small"):
      raise ValueError(f"stem must be 'imagenet' or 'small', got {self.stem!r}")
    conv = functools.partial(nn.Conv, use_bias=False, dtype=self.dtype,
                             kernel_init=nn.initializers.variance_scaling(2.0, "fan_out", "normal"))
    norm = functools.partial(nn.BatchNorm, use_running_average=not train, momentum=0.9, epsilon=1e-5,
                             dtype=self.dtype)
    x = x.astype(self.dtype)
    if self.stem == "imagenet":
      x = conv(self.width, (7, 7), (2, 2), padding=((3, 3), (3, 3)), name="stem_conv")(x)
      x = nn.relu(norm(name="stem_norm")(x))
      x = nn.max_pool(x, (3, 3), (2, 2), padding=((1, 1), (1, 1)))
    else:
      x = conv(self.width, (3, 3), padding=((1, 1), (1, 1)), name="stem_conv")(x)
      x = nn.relu(norm(name="stem_norm")(x))
    for stage, blocks in enumerate(self.stage_blocks):
      for block in range(blocks):
        strides = 2 if stage > 0 and block == 0 else 1
        x = BasicBlock(self.width * 2 ** stage, strides, conv, norm, self.zero_init_last_scale,
                       name=f"stage{stage + 1}_block{block + 1}")(x)
    features = jnp.mean(x, axis=(1, 2)).astype(jnp.float32)
    if features_only:
      return features
    return nn.Dense(self.num_classes, kernel_init=nn.initializers.zeros, name="head")(features)


def ResNet18(num_classes: int, stem: str = "small", width: int = 64, dtype=jnp.float32,
             zero_init_last_scale: bool = True) -> ResNet:
  return ResNet(num_classes=num_classes, stage_blocks=STAGE_BLOCKS, stem=stem, width=width,
                zero_init_last_scale=zero_init_last_scale, dtype=dtype)


def count_params(params) -> int:
  return sum(int(x.size) for x in jax.tree.leaves(params))


def build_model(model_config, num_classes: int) -> ResNet:
  """The backbone a config's `model` slice names (only ResNet-18 so far), with a `num_classes` head."""
  if model_config.name != "resnet18":
    raise ValueError(f"model.name must be 'resnet18', got {model_config.name!r}")
  dtype = jnp.bfloat16 if model_config.dtype == "bfloat16" else jnp.float32
  return ResNet18(num_classes, stem=model_config.stem, width=model_config.width, dtype=dtype,
                  zero_init_last_scale=model_config.zero_init_last_scale)
