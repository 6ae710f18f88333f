"""What the rendered pre-training pools (glyphs, fractals, strokes) share: each class has a virtual
`samples_per_class` samples, and sample j of class c is drawn on demand by the pool's `render(c, j)`, so any
subset is reproducible without a preparation step."""

from __future__ import annotations

import functools

import numpy as np


class RenderedPool:
  """A Grain-compatible random-access source over a pool's `render`; subclasses set `num_classes`,
  `samples_per_class` and `image_shape` and define `render(class_index, sample_index) -> (H, W, 1) uint8`."""

  num_classes: int
  samples_per_class: int
  image_shape: tuple[int, int, int]

  def render(self, class_index: int, sample_index: int) -> np.ndarray:
    raise NotImplementedError

  def __len__(self) -> int:
    return self.num_classes * self.samples_per_class

  @functools.cached_property
  def labels(self) -> np.ndarray:
    """The virtual label array (class of every index), for the subset sampler."""
    return np.repeat(np.arange(self.num_classes, dtype=np.int32), self.samples_per_class)

  def __getitem__(self, index: int) -> dict[str, np.ndarray]:
    index = int(index)
    if not 0 <= index < len(self):
      raise IndexError(f"index {index} outside the pool of {len(self)} samples")
    label, sample = divmod(index, self.samples_per_class)
    return {"image": self.render(label, sample), "label": np.int32(label)}

  def __getitems__(self, indices) -> list[dict[str, np.ndarray]]:
    return [self[i] for i in indices]

  def read_batch(self, indices) -> tuple[np.ndarray, np.ndarray]:
    """Images (B, H, W, 1) uint8 and labels (B,) int32 for a batch of pool indices."""
    indices = np.asarray(indices, np.int64)
    labels, samples = np.divmod(indices, self.samples_per_class)
    images = np.stack([self.render(int(c), int(s)) for c, s in zip(labels, samples)]) if len(indices) \
        else np.zeros((0, *self.image_shape), np.uint8)
    return images, labels.astype(np.int32)
