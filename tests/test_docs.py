"""The docs say what the code does: the exchange format as the layer declarations say it, a
README that stays a front door, and links between the chapters that lead somewhere."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from gisgrid.layers import LAYERS
from gisgrid.layers.docs import exchange_format_markdown

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
EXCHANGE_FORMAT = ROOT / "docs" / "exchange-format.md"
START = "<!-- exchange-format:start -->"
END = "<!-- exchange-format:end -->"
HOW = (
    f"run `gisgrid layers --markdown` and paste its output into docs/exchange-format.md "
    f"between {START} and {END}"
)
#: the README is the front door, not the manual ("under about 10 KB")
README_MAX_BYTES = 10_240
#: the chapters, one per reader, that the README sends people to
CHAPTERS = (
    "planner.md",
    "leader.md",
    "field-staff.md",
    "county-it.md",
    "http-api.md",
    "exchange-format.md",
    "development.md",
)
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_markdown_documents_every_layer_and_column() -> None:
    text = exchange_format_markdown()
    for name, layer in LAYERS.items():
        assert f"### `{name}` {layer.label_zh}" in text
        for f in layer.fields:
            assert f"| `{f.name}` | {f.label_zh} |" in text, f"{name}.{f.name}"
    assert "| `kind` | 类型 | text | yes | one of `village`, `community` |" in text
    assert "| `code` | 乡镇代码 | text | yes | 9 digits |" in text


def test_the_docs_hold_the_generated_exchange_format() -> None:
    assert EXCHANGE_FORMAT.is_file(), f"docs/exchange-format.md is missing: {HOW}"
    doc = EXCHANGE_FORMAT.read_text(encoding="utf-8")
    assert doc.count(START) == 1 and doc.count(END) == 1, f"markers missing: {HOW}"
    documented = doc.split(START, 1)[1].split(END, 1)[0]
    assert documented.strip() == exchange_format_markdown().strip(), (
        f"docs/exchange-format.md differs from the layer declarations: {HOW}"
    )


def test_the_readme_is_a_front_door() -> None:
    readme = README.read_text(encoding="utf-8")
    size = len(readme.encode("utf-8"))
    assert size <= README_MAX_BYTES, f"README.md is {size:,} bytes: move detail into docs/"
    for command in ("./run demo", "./run test"):
        assert command in readme
    for chapter in CHAPTERS:
        assert f"(docs/{chapter})" in readme, f"the README does not send anyone to {chapter}"
    assert "(docs/screens/map-coverage.png)" in readme


def _screenshot_script():
    """scripts/screenshots.py as a module (scripts are not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("screenshots", ROOT / "scripts/screenshots.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_docs_show_exactly_the_screenshots_the_script_takes() -> None:
    script = _screenshot_script()
    taken = {shot.file for shot in script.SHOTS} | {script.WALL_MAP}
    folder = ROOT / "docs" / "screens"
    assert {p.name for p in folder.glob("*.png")} == taken, "run scripts/screenshots.py"
    shown = set()
    for doc in DOCS:
        shown |= set(re.findall(r"\]\((?:docs/)?screens/([^)\s]+\.png)\)", doc.read_text("utf-8")))
    assert shown == taken
    for name in taken:  # a real image each, not an empty file left by a failed run
        assert (folder / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name


def _anchors(markdown: str) -> set[str]:
    """GitHub's anchors of a Markdown file's headings (lower case, punctuation dropped)."""
    found = set()
    in_code = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            found.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return found


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_between_the_docs_leads_somewhere(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto: leave the repository
            continue
        path, _, anchor = target.partition("#")
        file = (doc.parent / path).resolve() if path else doc
        assert file.exists(), f"{doc.name} links to {target}: no such file"
        if anchor and file.suffix == ".md":
            assert anchor in _anchors(file.read_text(encoding="utf-8")), (
                f"{doc.name} links to {target}: no such heading in {file.name}"
            )
