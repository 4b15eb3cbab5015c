"""The README documents the exchange format exactly as the layer declarations say."""

from __future__ import annotations

from pathlib import Path

from gisgrid.layers import LAYERS
from gisgrid.layers.docs import exchange_format_markdown

README = Path(__file__).resolve().parent.parent / "README.md"
START = "<!-- exchange-format:start -->"
END = "<!-- exchange-format:end -->"
HOW = (
    f"run `gisgrid layers --markdown` and paste its output into README.md between {START} and {END}"
)


def test_markdown_documents_every_layer_and_column() -> None:
    text = exchange_format_markdown()
    for name, layer in LAYERS.items():
        assert f"#### `{name}` {layer.label_zh}" in text
        for f in layer.fields:
            assert f"| `{f.name}` | {f.label_zh} |" in text, f"{name}.{f.name}"
    assert "| `kind` | 类型 | text | yes | one of `village`, `community` |" in text
    assert "| `code` | 乡镇代码 | text | yes | 9 digits |" in text


def test_readme_holds_the_generated_exchange_format() -> None:
    assert README.is_file(), f"README.md is missing: {HOW}"
    readme = README.read_text(encoding="utf-8")
    assert readme.count(START) == 1 and readme.count(END) == 1, f"markers missing: {HOW}"
    documented = readme.split(START, 1)[1].split(END, 1)[0]
    assert documented.strip() == exchange_format_markdown().strip(), (
        f"README.md's exchange format differs from the layer declarations: {HOW}"
    )
