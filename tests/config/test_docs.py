"""The README and docs/ stand on their own: their links resolve inside the repository."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", ROOT / "audit" / "README.md", *sorted(DOCS.glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
# Code blocks hold code, whose brackets and parentheses are not links.
FENCED = re.compile(r"^```.*?^```", re.S | re.M)


def test_no_page_points_outside_the_repository():
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        assert "../shared" not in text, page
        for target in LINK.findall(FENCED.sub("", text)):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            resolved = (page.parent / target).resolve()
            assert resolved.is_relative_to(ROOT), f"{page.name}: {target}"
            assert resolved.exists(), f"{page.name}: {target} does not exist"


def test_every_guide_picture_is_shown_and_every_shown_one_exists():
    shown = set()
    for page in DOCS.glob("*.md"):
        shown.update(re.findall(r"\(images/([\w-]+\.png)\)", page.read_text(encoding="utf-8")))
    taken = {path.name for path in (DOCS / "images").glob("*.png")}
    assert shown and shown <= taken, sorted(shown - taken)
    assert taken <= shown, f"pictures no guide shows: {sorted(taken - shown)}"


def test_each_role_has_a_guide():
    for name in ["product-owner", "reviewer", "compliance", "staff", "ci"]:
        assert (DOCS / f"guide-{name}.md").exists(), name
    for name in ["design", "api", "operations"]:
        assert (DOCS / f"{name}.md").exists(), name
