"""Every relative link in the README, the guides, the study pages and the reports resolves to a file."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
LINK = re.compile(r"\]\(([^)\s]+)\)")


def pages() -> list[pathlib.Path]:
  return [ROOT / "README.md", ROOT / "bench" / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def test_relative_links_resolve():
  broken = []
  for page in pages():
    for target in LINK.findall(page.read_text()):
      if re.match(r"[a-z]+:", target) or target.startswith("#"):
        continue
      path = (page.parent / target.split("#")[0]).resolve()
      if not path.exists():
        broken.append(f"{page.relative_to(ROOT)} -> {target}")
  assert not broken, "broken links:\n" + "\n".join(broken)


def test_the_readme_is_a_front_page():
  text = (ROOT / "README.md").read_text()
  assert len(text.splitlines()) <= 150
  assert text.index("make demo") < text.index("## What the studies found")
