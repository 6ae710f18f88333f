"""Rendering one glyph sample: a typeface design plus a random affine, stroke and elastic jitter.

Every random choice comes from a NumPy generator the caller seeds, so a sample is a pure function of
(class, sample index, pool seed). Rendering happens at twice the output resolution and is box-filtered
down, which keeps thin strokes anti-aliased at 32 px.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
from PIL import Image, ImageFilter

from jaxdiv.data import fonts


@dataclasses.dataclass(frozen=True)
class Augment:
  """Ranges of the random distortions; `Augment.none()` renders the plain design."""
  rotate_deg: float = 12.0
  shear: float = 0.15
  scale: tuple[float, float] = (0.7, 0.9)
  aspect: float = 0.1
  shift: float = 0.06  # fraction of the image side
  bolder_prob: float = 0.25
  thinner_prob: float = 0.1
  elastic: float = 0.025  # std of mesh-vertex jitter, fraction of the side
  mesh_cells: int = 4

  @classmethod
  def none(cls) -> "Augment":
    return cls(0.0, 0.0, (0.85, 0.85), 0.0, 0.0, 0.0, 0.0, 0.0, 1)

  def scaled(self, spread: float) -> "Augment":
    """Every warp range times `spread` (the pool's intra-class spread dial): 1 is this Augment unchanged, 0 the
    plain design at the centre of the scale range, 2 twice every angle, shear, aspect, shift, mesh jitter and
    scale half-range. The stroke-weight probabilities scale too, capped so that together they stay <= 1."""
    if spread < 0:
      raise ValueError(f"data.spread must be >= 0 (0 = the plain design, 1 = today's warps), got {spread}")
    if spread == 1:
      return self
    centre, half = sum(self.scale) / 2, (self.scale[1] - self.scale[0]) / 2
    weight = self.bolder_prob + self.thinner_prob
    stroke = min(spread, 1.0 / weight) if weight else spread
    return dataclasses.replace(
        self, rotate_deg=self.rotate_deg * spread, shear=self.shear * spread,
        scale=(centre - half * spread, centre + half * spread), aspect=self.aspect * spread,
        shift=self.shift * spread, bolder_prob=self.bolder_prob * stroke, thinner_prob=self.thinner_prob * stroke,
        elastic=self.elastic * spread)

  @classmethod
  def mild(cls) -> "Augment":
    return cls(rotate_deg=6.0, shear=0.08, scale=(0.75, 0.9), aspect=0.05, shift=0.05,
               bolder_prob=0.15, thinner_prob=0.05, elastic=0.012)


@functools.lru_cache(maxsize=65536)
def master_glyph(face: fonts.Face, char: str, side: int) -> Image.Image:
  """The glyph centred on a `side`×`side` canvas, its longer ink side filling the canvas."""
  ink = fonts.glyph_mask(face, char, side)
  canvas = Image.new("L", (side, side), 0)
  if ink.size == 0:
    return canvas
  height, width = ink.shape
  scale = side / max(height, width)
  new_size = (max(1, round(width * scale)), max(1, round(height * scale)))
  glyph = Image.fromarray((ink * 255).astype(np.uint8)).resize(new_size, Image.BILINEAR)
  canvas.paste(glyph, ((side - new_size[0]) // 2, (side - new_size[1]) // 2))
  return canvas


def _inverse_affine(rng: np.random.Generator, aug: Augment) -> np.ndarray:
  """A 2×2 matrix mapping output offsets from the centre to source offsets."""
  angle = np.deg2rad(rng.uniform(-aug.rotate_deg, aug.rotate_deg))
  scale = rng.uniform(*aug.scale)
  aspect = np.exp(rng.uniform(-aug.aspect, aug.aspect))
  shear = rng.uniform(-aug.shear, aug.shear)
  rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
  forward = rotation @ np.array([[1.0, shear], [0.0, 1.0]]) @ np.diag([scale * aspect, scale / aspect])
  return np.linalg.inv(forward)


def render_sample(face: fonts.Face, char: str, resolution: int, rng: np.random.Generator,
                  aug: Augment = Augment()) -> np.ndarray:
  """One augmented rendering of `char` in `face`: uint8 array (resolution, resolution)."""
  side = 2 * resolution
  image = master_glyph(face, char, side)
  stroke = rng.uniform()
  if stroke < aug.bolder_prob:
    image = image.filter(ImageFilter.MaxFilter(3))
  elif stroke < aug.bolder_prob + aug.thinner_prob:
    image = image.filter(ImageFilter.MinFilter(3))
  inverse = _inverse_affine(rng, aug)
  shift = rng.uniform(-aug.shift, aug.shift, size=2) * side
  cells = aug.mesh_cells
  grid = np.linspace(0.0, side, cells + 1)
  out_x, out_y = np.meshgrid(grid, grid)  # vertex positions in the output, [row, col]
  centre = side / 2.0
  offsets = np.stack([out_x - centre - shift[0], out_y - centre - shift[1]], axis=-1)
  src = offsets @ inverse.T + centre
  src += rng.normal(0.0, aug.elastic * side, size=src.shape)
  mesh = []
  for row in range(cells):
    for col in range(cells):
      box = (int(grid[col]), int(grid[row]), int(grid[col + 1]), int(grid[row + 1]))
      quad = (*src[row, col], *src[row + 1, col], *src[row + 1, col + 1], *src[row, col + 1])
      mesh.append((box, quad))
  warped = image.transform((side, side), Image.MESH, mesh, resample=Image.BILINEAR)
  return np.asarray(warped.reduce(2), np.uint8)
