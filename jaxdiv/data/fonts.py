"""Font discovery and the per-character index of visually distinct typeface designs.

Fonts come from Debian packages (see `APT_PACKAGES`). Two traps shape this module: fonts often map
code points to empty glyphs (so we check ink, not only the cmap), and faces of one family (regional
variants, weights, proportional twins) often render identically (so designs are de-duplicated by
comparing normalised renders, not by counting files).
"""

from __future__ import annotations

import dataclasses
import functools
import glob
import hashlib
import json
import os
from collections.abc import Iterable, Sequence

import numpy as np
from PIL import Image, ImageFont

from jaxdiv import io

FONT_ROOTS = ("/usr/share/fonts", "/usr/share/fonts-droid-fallback")

# Han pre-training pool: Debian packages and the file-name patterns they install.
PRETRAIN_PACKAGES = (
    "fonts-noto-cjk fonts-unifont fonts-droid-fallback fonts-vlgothic fonts-umeplus-cl fonts-konatu "
    "fonts-monapo fonts-cwtex-heib fonts-cwtex-yen fonts-wqy-zenhei fonts-arphic-bsmi00lp "
    "fonts-arphic-gkai00mp fonts-seto fonts-smiley-sans"
).split()
PRETRAIN_PATTERNS = (
    "**/NotoSansCJK-*.ttc", "**/NotoSerifCJK-*.ttc", "**/unifont.otf", "**/DroidSansFallback*.ttf",
    "**/VL-*Gothic-Regular.ttf", "**/umeplus-cl*-gothic.ttf", "**/Konatu*.ttf", "**/monapo.ttf",
    "**/cwheib.ttf", "**/cwyen.ttf", "**/wqy-zenhei.ttc", "**/bsmi00lp.ttf", "**/gkai00mp.ttf",
    "**/setofont*.ttf", "**/SmileySans-*.ttf",
)
# Latin-family fonts for the letter tasks: disjoint from the pre-training files.
LATIN_PACKAGES = (
    "fonts-aenigma fonts-urw-base35 fonts-cmu fonts-liberation fonts-uralic fonts-dejavu-core "
    "fonts-freefont-ttf"
).split()
LATIN_PATTERNS = (
    "**/aenigma/*.ttf", "**/urw-base35/*.otf", "**/cmu/*.ttf", "**/liberation/*.ttf",
    "**/uralic/*.ttf", "**/dejavu/*.ttf", "**/freefont/*.ttf",
)
HANGUL_PACKAGES = "fonts-nanum fonts-unfonts-core fonts-baekmuk".split()
HANGUL_PATTERNS = ("**/nanum/*.ttf", "**/unfonts-core/*.ttf", "**/baekmuk/*.ttf")
# Known bad faces: FreeType crashes on some horai-umefont files; fonts-alee draws Hangul at Han
# code points (it would mislabel classes).
EXCLUDED_NAME_PARTS = ("ume-pgs4", "ume-pgs5", "ume-tgs5", "alee", "unifont_sample", "unifont_csur")

DATASET_PACKAGES = ("dataset-fashion-mnist",)
APT_PACKAGES = tuple(PRETRAIN_PACKAGES + LATIN_PACKAGES + HANGUL_PACKAGES) + DATASET_PACKAGES

HAN_RANGE = (0x4E00, 0x9FFF)  # CJK Unified Ideographs
DEDUP_SIZE = 20  # side of the normalised render used to compare designs
DEDUP_THRESHOLD = 0.08  # mean |difference| below which two renders are one design
INDEX_VERSION = 1


class MissingFontsError(RuntimeError):
  """Raised when the Debian font packages the embedded data needs are not installed."""


def apt_install_line(packages: Iterable[str] = APT_PACKAGES) -> str:
  return "apt-get install -y --no-install-recommends " + " ".join(packages)


@dataclasses.dataclass(frozen=True, order=True)
class Face:
  """One face of a font file (a .ttc holds several)."""
  path: str
  index: int = 0

  @property
  def name(self) -> str:
    return f"{os.path.basename(self.path)}:{self.index}"


def _face_count(path: str) -> int:
  if not path.lower().endswith(".ttc"):
    return 1
  from fontTools.ttLib import TTCollection
  return len(TTCollection(path, lazy=True).fonts)


def find_faces(patterns: Sequence[str], packages: Sequence[str],
               roots: Sequence[str] = FONT_ROOTS) -> list[Face]:
  """All faces whose file matches `patterns` under `roots`; a clear error when none do."""
  paths = set()
  for root in roots:
    for pattern in patterns:
      paths.update(os.path.realpath(p) for p in glob.glob(os.path.join(root, pattern), recursive=True))
  paths = sorted(p for p in paths if not any(x in os.path.basename(p) for x in EXCLUDED_NAME_PARTS))
  if not paths:
    raise MissingFontsError(
        f"No fonts found for patterns {list(patterns)[:3]}... under {list(roots)}. Install them with:\n"
        f"  sudo {apt_install_line(packages)}\n(or run `make setup`).")
  return [Face(p, i) for p in paths for i in range(_face_count(p))]


@functools.lru_cache(maxsize=4096)
def load_font(face: Face, size: int) -> ImageFont.FreeTypeFont:
  return ImageFont.truetype(face.path, size, index=face.index)


@functools.lru_cache(maxsize=256)
def cmap(face: Face) -> frozenset[int]:
  from fontTools.ttLib import TTFont
  font = TTFont(face.path, fontNumber=face.index, lazy=True)
  return frozenset((font.getBestCmap() or {}).keys())


def glyph_mask(face: Face, char: str, size: int) -> np.ndarray:
  """The glyph's anti-aliased ink, cropped to its bounding box, as float32 in [0, 1]."""
  mask = load_font(face, size).getmask(char, mode="L")
  width, height = mask.size
  if width == 0 or height == 0:
    return np.zeros((0, 0), np.float32)
  return np.asarray(mask, np.float32).reshape(height, width) / 255.0


def normalised_render(face: Face, char: str, size: int = 32, side: int = DEDUP_SIZE) -> np.ndarray | None:
  """A size-normalised render for comparing designs; None when the glyph has no ink."""
  ink = glyph_mask(face, char, size)
  if ink.size == 0 or ink.sum() < 3.0:
    return None
  rows, cols = np.nonzero(ink > 0.2)
  if rows.size == 0:
    return None
  crop = ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
  image = Image.fromarray((crop * 255).astype(np.uint8)).resize((side, side), Image.BILINEAR)
  return np.asarray(image, np.float32) / 255.0


def distinct_designs(faces: Sequence[Face], char: str, threshold: float = DEDUP_THRESHOLD) -> list[int]:
  """Indices of faces whose render of `char` has ink and differs from every earlier kept one."""
  code = ord(char)
  kept, renders = [], []
  for i, face in enumerate(faces):
    if code not in cmap(face):
      continue
    render = normalised_render(face, char)
    if render is None:
      continue
    if all(np.abs(render - other).mean() > threshold for other in renders):
      kept.append(i)
      renders.append(render)
  return kept


def _index_key(faces: Sequence[Face], codepoints: Sequence[int]) -> str:
  payload = json.dumps([INDEX_VERSION, DEDUP_THRESHOLD, [(f.path, f.index) for f in faces],
                        [int(codepoints[0]), int(codepoints[-1]), len(codepoints)]])
  return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _designs_for_chunk(args):
  faces, codes = args
  return [distinct_designs(faces, chr(c)) for c in codes]


def build_design_index(faces: Sequence[Face], codepoints: Sequence[int], workers: int = 0, chunk: int = 128
                       ) -> dict[int, list[int]]:
  """Map each code point to its distinct-design face indices (slow: renders every face), in chunks of
  `chunk` code points spread over `workers` processes, with a progress bar; the result does not depend
  on either."""
  codes = [int(c) for c in codepoints]
  workers = workers or min(os.cpu_count() or 1, 8)
  chunks = [codes[i:i + chunk] for i in range(0, len(codes), chunk)]
  if workers == 1:
    results = [_designs_for_chunk((faces, c)) for c in chunks]
  else:
    results = io.fork_map(_designs_for_chunk, [(list(faces), c) for c in chunks], workers,
                       progress=f"glyph design index ({len(codes)} characters, built once)")
  index = {}
  for part, designs in zip(chunks, results):
    index.update(zip(part, designs))
  return {c: index[c] for c in codes}


SHIPPED_INDEX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "design_index.json.gz")
SPOT_CHECKS = 48


def _face_sizes(faces: Sequence[Face]) -> list[int]:
  return [os.path.getsize(f.path) if os.path.exists(f.path) else -1 for f in faces]


def shipped_design_index(faces: Sequence[Face], codepoints: Sequence[int], path: str = SHIPPED_INDEX
                         ) -> dict[int, list[int]] | None:
  """The index shipped with jaxdiv (built from the Debian font packages `scripts/install_apt.sh` installs),
  used only when it was built for these very faces (paths, face numbers and file sizes) and
  `SPOT_CHECKS` code points re-rendered here give the same designs; None otherwise, and the index is
  then built from the fonts. Saves a newcomer the two minutes the build takes on 2 cores."""
  import gzip
  if not os.path.exists(path):
    return None
  with gzip.open(path, "rt") as f:
    shipped = json.load(f)
  if shipped.get("key") != _index_key(faces, codepoints) or shipped.get("face_sizes") != _face_sizes(faces):
    return None
  index = {int(k): v for k, v in shipped["index"].items()}
  rng = np.random.default_rng(0)
  for code in rng.choice([int(c) for c in codepoints], min(SPOT_CHECKS, len(codepoints)), replace=False):
    if index.get(int(code)) != distinct_designs(faces, chr(int(code))):
      return None
  return {int(c): index[int(c)] for c in codepoints}


def write_shipped_design_index(faces: Sequence[Face], codepoints: Sequence[int], index: dict,
                               path: str = SHIPPED_INDEX) -> None:
  """Write the index to ship (maintainers: `python -m jaxdiv.data.glyphs` after a font package changes)."""
  import gzip
  payload = {"key": _index_key(faces, codepoints), "face_sizes": _face_sizes(faces),
             "faces": [[f.path, f.index] for f in faces], "index": {str(k): v for k, v in index.items()}}
  with gzip.open(path, "wt") as f:
    json.dump(payload, f, separators=(",", ":"))


def cached_design_index(faces: Sequence[Face], codepoints: Sequence[int],
                        cache_dir: str | None = None) -> dict[int, list[int]]:
  """`build_design_index`, computed once and kept as JSON in the cache directory (taken from the index
  shipped with jaxdiv when it matches these fonts)."""
  cache_dir = cache_dir or io.default_cache_dir()
  path = os.path.join(cache_dir, f"design_index_{_index_key(faces, codepoints)}.json")
  if os.path.exists(path):
    with open(path) as f:
      return {int(k): v for k, v in json.load(f).items()}
  index = shipped_design_index(faces, codepoints)
  if index is None:
    index = build_design_index(faces, codepoints)
  io.write_json_atomic(path, {str(k): v for k, v in index.items()})
  return index
