"""The extension's style sheets touch only its own elements: every selector names one of its classes
(`ai4geo-…`), the bundled Leaflet and leaflet-geoman sheets included (scoped at build time), so neither restyles
another extension's maps (ipyleaflet in notebooks) nor the Lab."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

STYLE = Path(__file__).resolve().parents[2] / "labextension" / "style"


def _selectors(css: str) -> list[str]:
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    css = re.sub(r"url\((['\"]?).*?\1\)", "url()", css, flags=re.S)  # data URIs hold braces and commas
    found = []
    for match in re.finditer(r"([^{};]+)\{[^{}]*\}", css):
        head = match.group(1).strip()
        if head.startswith("@") or re.fullmatch(r"(from|to|[\d.]+%)(\s*,\s*(from|to|[\d.]+%))*", head):
            continue  # keyframe steps
        found += [s.strip() for s in head.split(",")]
    return found


def test_every_selector_is_scoped_to_the_extension():
    sheets = sorted(STYLE.glob("*.css")) + sorted((STYLE / "scoped").glob("*.css"))
    if not list((STYLE / "scoped").glob("*.css")):
        if os.environ.get("CI") == "true":
            raise AssertionError("labextension/style/scoped/ is not built (npm run build:css)")
        pytest.skip("the scoped Leaflet sheets are not built (cd labextension && npm run build:css)")
    checked = 0
    for sheet in sheets:
        for selector in _selectors(sheet.read_text()):
            assert "ai4geo" in selector, f"{sheet.name}: {selector!r} is not scoped to the extension"
            checked += 1
    assert checked > 300  # Leaflet's and geoman's rules are among them


def test_the_index_imports_only_scoped_library_sheets():
    for index in ("index.css", "index.js"):
        text = (STYLE / index).read_text()
        assert "leaflet" in text and "node_modules" not in text and "~leaflet" not in text
        assert re.findall(r"leaflet[\w-]*\.css", text) == ["leaflet.css", "leaflet-geoman.css"]
        assert text.count("scoped/") == 2, text
