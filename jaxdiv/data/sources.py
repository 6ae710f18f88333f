"""One interface over every labelled source: the glyph pool, the embedded tasks, any TFDS dataset."""

from __future__ import annotations

import functools
import hashlib
import os
from typing import Protocol, runtime_checkable

import numpy as np
import tensorflow_datasets as tfds
from PIL import Image

from jaxdiv import io
from jaxdiv.data import downstream, fractals, glyphs, strokes


@runtime_checkable
class Source(Protocol):
  """What the sampler, the pipelines and the probes need of a labelled dataset (after grain's
  `RandomAccessDataSource`): random access for Grain, all labels at once for the K x n sampler, and
  whole batches in one call (a Python read per record is ~15x slower at 32 px)."""

  num_classes: int
  image_shape: tuple[int, int, int]

  @property
  def labels(self) -> np.ndarray:
    """The class of every index (int32), for the subset sampler."""

  def __len__(self) -> int: ...

  def __getitem__(self, index: int): ...

  def read_batch(self, indices) -> tuple[np.ndarray, np.ndarray]:
    """(B, H, W, C) uint8 images fitted to `image_shape`, and (B,) int32 labels."""

  def fingerprint(self) -> str:
    """A string that changes whenever the images of an index would (keys caches of materialised images)."""


def to_channels(images: np.ndarray, channels: int) -> np.ndarray:
  """uint8 images (..., C) with `channels` channels: grey repeated to RGB, RGB(A) to grey by luma."""
  if images.shape[-1] == channels:
    return images
  if channels == 1:
    luma = images[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    return np.round(luma).astype(np.uint8)[..., None]
  return np.repeat(images[..., :1], channels, axis=-1)


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
  return to_channels(image, channels)


def crop_box(width: int, height: int, rng: np.random.Generator, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)
             ) -> tuple[int, int, int, int]:
  """The random-resized crop of ImageNet training (Inception style): a box of 8-100% of the area with
  aspect ratio in [3/4, 4/3] (log-uniform), 10 tries, else the centred box of the clamped aspect ratio.
  Returns (left, top, right, bottom)."""
  area = width * height
  for _ in range(10):
    target = area * rng.uniform(*scale)
    aspect = np.exp(rng.uniform(np.log(ratio[0]), np.log(ratio[1])))
    w, h = int(round(np.sqrt(target * aspect))), int(round(np.sqrt(target / aspect)))
    if 0 < w <= width and 0 < h <= height:
      left, top = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
      return left, top, left + w, top + h
  aspect = width / height
  w, h = (width, int(round(width / ratio[0]))) if aspect < ratio[0] else (
      (int(round(height * ratio[1])), height) if aspect > ratio[1] else (width, height))
  w, h = min(w, width), min(h, height)
  left, top = (width - w) // 2, (height - h) // 2
  return left, top, left + w, top + h


def decode_fit(data: bytes, resolution: int, channels: int, rng: np.random.Generator | None = None,
               flip: bool = True) -> np.ndarray:
  """Encoded image bytes -> (resolution, resolution, channels) uint8. Without `rng`: the shorter side
  resized to `resolution` and centre-cropped, a JPEG decoded at the smallest DCT scale that still
  covers it (draft mode). With `rng`: a random-resized crop (`crop_box`), with `flip` mirrored with
  probability 1/2."""
  import io as bytes_io
  image = Image.open(bytes_io.BytesIO(data))
  mode = "L" if channels == 1 else "RGB"
  if rng is None:
    if image.format == "JPEG":
      scale = resolution / min(image.size)
      image.draft(mode, (int(np.ceil(image.size[0] * scale)), int(np.ceil(image.size[1] * scale))))
    image = image.convert(mode)
    width, height = image.size
    side = min(width, height)
    box = ((width - side) // 2, (height - side) // 2, (width - side) // 2 + side, (height - side) // 2 + side)
    flip = False
  else:
    image = image.convert(mode)
    box = crop_box(*image.size, rng)
    flip = flip and rng.random() < 0.5
  out = image.resize((resolution, resolution), Image.BILINEAR, box=box)
  if flip:
    out = out.transpose(Image.FLIP_LEFT_RIGHT)
  array = np.asarray(out)
  return to_channels(array[..., None] if array.ndim == 2 else array, channels)


class TfdsSource:
  """A split of a prepared TFDS dataset read through `tfds.data_source` (array_record, no TensorFlow).

  Any dataset with an image feature (JPEG or PNG of any size, RGB or grey, or a uint8 Tensor) and a
  ClassLabel works: the keys default to "image" and "label", else the only feature of that kind. A
  missing "test" split falls back to "validation" (ImageNet, and transfer sets without a test split).
  """

  def __init__(self, name: str, split: str, data_dir: str | None = None, resolution: int | None = None,
               channels: int | None = None, image_key: str | None = None, label_key: str | None = None):
    self.name, self.data_dir = name, data_dir
    where = (f"under data_dir={data_dir!r}" if data_dir
             else "in the TFDS default folder ($TFDS_DATA_DIR or ~/tensorflow_datasets)")
    hint = (f"TFDS dataset {name!r} is not prepared {where}. jaxdiv never downloads at run time: prepare it once "
            f"with `tfds build {name.split('/')[0]} --data_dir DIR --file_format array_record` (needs TensorFlow "
            "there; see docs/guide/datasets.md), then name DIR with --config.data.data_dir=DIR or a probe task "
            "NAME@DIR")
    try:
      builder = tfds.builder(name, data_dir=data_dir, file_format="array_record")
    except Exception as error:  # unknown names raise several TFDS error types
      raise FileNotFoundError(f"{hint}: {error}") from error
    if not builder.is_prepared():
      raise FileNotFoundError(hint)
    info = builder.info
    splits = list(info.splits)
    if split not in splits and split == "test" and "validation" in splits:
      split = "validation"
    if split not in splits:
      raise ValueError(f"TFDS dataset {name!r} has no split {split!r}; it has {splits}")
    self.split = split
    image_kinds = (tfds.features.Image, tfds.features.Tensor)
    self.image_key = image_key or _feature_key(info.features, "image", image_kinds, name)
    self.label_key = label_key or _feature_key(info.features, "label", (tfds.features.ClassLabel,), name)
    self.source = builder.as_data_source(split=split)
    # Encoded images (JPEG, PNG) are read as bytes and decoded here, where decoding can be sized to the
    # output (JPEG draft mode) and cropped at random; the same call then runs in Grain worker processes.
    self.encoded = isinstance(info.features[self.image_key], tfds.features.Image)
    self.raw = (builder.as_data_source(split=split, decoders={self.image_key: tfds.decode.SkipDecoding()})
                if self.encoded else None)  # a Tensor feature has nothing to decode: no second reader
    self.num_classes = int(info.features[self.label_key].num_classes)
    shape = info.features[self.image_key].shape
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
    """All labels, read once (a full pass over a new dataset) and cached on this machine: the data_dir may
    be a read-only bucket."""
    key = hashlib.sha256(f"{self.data_dir}/{self.name}/{self.split}/{len(self)}".encode()).hexdigest()[:12]
    cache = os.path.join(io.default_cache_dir(), "labels", f"{self.name.replace('/', '_')}_{self.split}_{key}.npy")
    if os.path.exists(cache):
      return np.load(cache)
    read = self.raw.__getitems__ if self.encoded else self.__getitems__  # labels without decoding images
    labels = np.concatenate([
        np.array([r[self.label_key] for r in read(list(range(start, min(start + 4096, len(self)))))])
        for start in range(0, len(self), 4096)]).astype(np.int32)
    io.save_npy_atomic(cache, labels)
    return labels

  def read_batch(self, indices, crop_rngs=None, flip: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Images fitted to (resolution, resolution, channels) and labels. With `crop_rngs` (one NumPy
    Generator per index; encoded images only) each image is a random-resized crop (with `flip`, mirrored
    at random)."""
    indices = np.asarray(indices).tolist()
    if not self.encoded:
      if crop_rngs is not None:
        raise ValueError(f"{self.name}: random-resized crops need an encoded image feature (JPEG or PNG); "
                         "use data.crop='center'")
      records = self.__getitems__(indices)
      images = [fit_image(np.asarray(r[self.image_key]), self.resolution, self.channels) for r in records]
    else:
      records = self.raw.__getitems__(indices)
      rngs = crop_rngs if crop_rngs is not None else [None] * len(records)
      images = [decode_fit(r[self.image_key], self.resolution, self.channels, rng, flip)
                for r, rng in zip(records, rngs)]
    images = np.stack(images) if images else np.zeros((0, *self.image_shape), np.uint8)
    return images, np.array([r[self.label_key] for r in records], np.int32)

  def fingerprint(self) -> str:
    return f"tfds:{self.name}:{self.split}:{self.resolution}:{self.channels}:{len(self)}"


def _feature_key(features, preferred: str, kinds: tuple, name: str) -> str:
  if preferred in features:
    return preferred
  found = [key for key, feature in features.items() if isinstance(feature, kinds)]
  if len(found) != 1:
    raise ValueError(f"TFDS dataset {name!r}: no {preferred!r} feature and {len(found)} candidates {found} among "
                     f"{list(features)}; jaxdiv needs one {preferred} feature")
  return found[0]


POOLS = ("glyphs", "fractals", "strokes")  # the rendered pools (and their "_heldout" tenths): grey, no data_dir


def is_pool(name: str) -> bool:
  return name.startswith(POOLS)


def split_location(name: str, data_dir: str | None = None) -> tuple[str, str | None]:
  """`"NAME@DIR"` -> ("NAME", "DIR"): a dataset named together with the data_dir it is prepared in."""
  name, sep, where = name.partition("@")
  return name, (where if sep else data_dir) or None


def get_source(name: str, split: str = "train", resolution: int = 32, data_dir: str | None = None,
               channels: int | None = None, **pool_options):
  """The source called `name`: "glyphs" (the Han pool), "fractals" (the fractal pool), "strokes" (the
  stroke-perturbed characters), their "_heldout" tenths, an embedded task, or any prepared TFDS dataset
  (`NAME` or `NAME@DATA_DIR`), with `channels` image channels when given (a model's input)."""
  name, data_dir = split_location(name, data_dir)
  if name in ("glyphs", "glyphs_heldout"):
    config = glyphs.GlyphPoolConfig(resolution=resolution, **pool_options)
    return glyphs.GlyphPool(config, heldout=name == "glyphs_heldout")
  if name in ("fractals", "fractals_heldout"):
    config = fractals.FractalPoolConfig(resolution=resolution, **pool_options)
    return fractals.FractalPool(config, heldout=name == "fractals_heldout")
  if name in ("strokes", "strokes_heldout"):
    config = strokes.StrokePoolConfig(resolution=resolution, **pool_options)
    return strokes.StrokePool(config, heldout=name == "strokes_heldout")
  if name in downstream.TASKS:
    data_dir = data_dir or downstream.default_data_dir()
    downstream.prepare(name, resolution, data_dir)
    return TfdsSource(f"{name}/r{resolution}", split, data_dir, channels=channels)
  return TfdsSource(name, split, data_dir, resolution=resolution, channels=channels)


def build_source(config, split: str | None = None):
  """The pre-training source a config's `data` slice names: the glyph pool with its code-point range and
  dials, the fractal and stroke pools with their spread, an embedded task, or a prepared TFDS dataset in
  `data.data_dir`."""
  data = config.data
  options = {}
  if data.source.startswith("glyphs"):
    if data.glyph_range:
      first, last = data.glyph_range.split("-")
      options["codepoint_range"] = (int(first, 16), int(last, 16))
    options.update(designs_per_class=int(data.get("designs_per_class", 0)), spread=float(data.get("spread", 1.0)))
  elif data.source.startswith(("fractals", "strokes")):
    if int(data.get("designs_per_class", 0)):
      raise ValueError("data.designs_per_class is a dial of the glyph pool; a fractal or stroke class is one "
                       "continuous distribution (set data.spread instead)")
    options["spread"] = float(data.get("spread", 1.0))
  return get_source(data.source, split=split or data.split, resolution=data.resolution,
                    data_dir=data.data_dir or None, **options)
