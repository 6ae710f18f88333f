"""One interface over every labelled source: the glyph pool, the embedded tasks, any TFDS dataset.

A source is random-access (`len`, `[i]`, Grain-compatible) and has `labels` (the class of every
index, for the subset sampler), `num_classes`, `image_shape` and a batched `read_batch(indices)`.
"""

from __future__ import annotations

import functools
import hashlib
import os

import numpy as np
import tensorflow_datasets as tfds
from PIL import Image

from jaxdiv.data import downstream, glyphs


def fit_image(image: np.ndarray, resolution: int, channels: int) -> np.ndarray:
  """Resize the shorter side to `resolution`, centre-crop square, and convert the channel count."""
  image = image if image.ndim == 3 else image[..., None]
  height, width = image.shape[:2]
  if (height, width) != (resolution, resolution):
    scale = resolution / min(height, width)
    size = (max(resolution, round(width * scale)), max(resolution, round(height * scale)))
    pil = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)
    resized = np.asarray(pil.resize(size, Image.BILINEAR))
    resized = resized if resized.ndim == 3 else resized[..., None]
    top, left = (size[1] - resolution) // 2, (size[0] - resolution) // 2
    image = resized[top:top + resolution, left:left + resolution]
  if image.shape[-1] == channels:
    return image
  if channels == 1:
    return np.round(image[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114])).astype(np.uint8)[
        ..., None]
  return np.repeat(image[..., :1], channels, axis=-1)


class TfdsSource:
  """A split of a prepared TFDS dataset read through `tfds.data_source` (array_record)."""

  def __init__(self, name: str, split: str, data_dir: str | None = None, resolution: int | None = None,
               channels: int | None = None, image_key: str = "image", label_key: str = "label"):
    self.name, self.split, self.data_dir = name, split, data_dir
    hint = (f"TFDS dataset {name!r} is not prepared under data_dir={data_dir!r}. jaxdiv never downloads "
            "at run time: prepare it first with `tfds build {name} --data_dir DIR --file_format array_record` "
            "(ImageNet needs its manual download; see configs/imagenet_resnet18.py)")
    try:
      builder = tfds.builder(name, data_dir=data_dir, file_format="array_record")
    except Exception as error:  # unknown names raise several TFDS error types
      raise FileNotFoundError(f"{hint}: {error}") from error
    if not builder.is_prepared():
      raise FileNotFoundError(hint)
    self.source = builder.as_data_source(split=split)
    info = builder.info
    self.image_key, self.label_key = image_key, label_key
    self.num_classes = int(info.features[label_key].num_classes)
    shape = info.features[image_key].shape
    self.channels = channels or (shape[-1] if len(shape) == 3 and shape[-1] else 3)
    self.resolution = resolution or (shape[0] if shape[0] else 224)
    self.image_shape = (self.resolution, self.resolution, self.channels)

  def __len__(self) -> int:
    return len(self.source)

  def __getitem__(self, index: int):
    return self.source[int(index)]

  def __getitems__(self, indices):
    return self.source.__getitems__([int(i) for i in indices])

  @functools.cached_property
  def labels(self) -> np.ndarray:
    """All labels, read once and cached beside the data (a full pass for a new dataset)."""
    key = hashlib.sha256(f"{self.name}/{self.split}/{len(self)}".encode()).hexdigest()[:12]
    cache = os.path.join(self.data_dir or downstream.default_data_dir(), "jaxdiv_labels",
                         f"{self.name.replace('/', '_')}_{self.split}_{key}.npy")
    if os.path.exists(cache):
      return np.load(cache)
    labels = np.concatenate([
        np.array([r[self.label_key] for r in self.__getitems__(range(start, min(start + 4096, len(self))))])
        for start in range(0, len(self), 4096)]).astype(np.int32)
    os.makedirs(os.path.dirname(cache), exist_ok=True)
    tmp = f"{cache}.tmp{os.getpid()}.npy"
    np.save(tmp, labels)
    os.replace(tmp, cache)
    return labels

  def read_batch(self, indices) -> tuple[np.ndarray, np.ndarray]:
    records = self.__getitems__(np.asarray(indices).tolist())
    images = [fit_image(np.asarray(r[self.image_key]), self.resolution, self.channels) for r in records]
    images = np.stack(images) if images else np.zeros((0, *self.image_shape), np.uint8)
    return images, np.array([r[self.label_key] for r in records], np.int32)

  def fingerprint(self) -> str:
    return f"tfds:{self.name}:{self.split}:{self.resolution}:{self.channels}:{len(self)}"


def get_source(name: str, split: str = "train", resolution: int = 32, data_dir: str | None = None,
               **pool_options):
  """The source called `name`: "glyphs" (the Han pool), an embedded task, or any prepared TFDS name."""
  if name in ("glyphs", "glyphs_heldout"):
    config = glyphs.GlyphPoolConfig(resolution=resolution, **pool_options)
    return glyphs.GlyphPool(config, heldout=name == "glyphs_heldout")
  if name in downstream.TASKS:
    downstream.prepare(name, resolution, data_dir)
    return TfdsSource(f"{name}/r{resolution}", split, data_dir or downstream.default_data_dir())
  return TfdsSource(name, split, data_dir, resolution=resolution)


def source_fingerprint(source) -> str:
  if isinstance(source, glyphs.GlyphPool):
    return f"glyphs:{source.config}:{source.augment}:{source.num_classes}"
  return source.fingerprint()
