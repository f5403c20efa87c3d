"""The HTML report: well-formed, every metric and figure present, text escaped, written atomically."""

from __future__ import annotations

import base64
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure as MplFigure

from ai4geo_lab.errors import InvalidInputError
from ai4geo_lab.landcover.classes import LANDCOVER_CLASSES
from ai4geo_lab.quality.report import (
    Figure,
    error_histogram,
    format_value,
    raster_figure,
    render_report,
    side_by_side,
    split_metric_name,
)

VOID = {"meta", "img", "br", "hr", "link", "input", "col", "area", "base", "source", "wbr"}


class Checker(HTMLParser):
    """Checks that every element is closed in order, and collects images and script tags."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.images: list[str] = []
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append(tag)
        if tag == "img":
            self.images.append(dict(attrs)["src"])
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(f"unexpected </{tag}>")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(path: Path) -> Checker:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    checker = Checker()
    checker.feed(text)
    checker.close()
    assert checker.errors == [] and checker.stack == []
    return checker


def test_report_has_metrics_figures_tables_notes(tmp_path: Path) -> None:
    yy, xx = np.mgrid[:50, :60]
    dem = np.sin(xx / 7.0) * 5 + yy / 10
    dem[:3] = np.nan
    classes = (xx // 10 + yy // 10) % 7
    figures = [
        Figure("DSM", "a continuous raster", raster_figure(dem, "DSM", cmap="terrain")),
        Figure("Land cover", "", raster_figure(classes, "classes", legend=LANDCOVER_CLASSES)),
        Figure("Pair", "two rasters", side_by_side([dem, dem + 1], ["a", "b"])),
        Figure("Pair of classes", "", side_by_side([classes, classes], ["a", "b"], legend=LANDCOVER_CLASSES)),
        Figure("Errors", "histogram", error_histogram(np.random.default_rng(0).normal(size=500), "e (m)")),
    ]
    metrics = {"dsm.nmad_m": 1.2345, "dsm.valid_fraction": 0.875, "dsm.accuracy_class": "ASPRS 100-cm",
               "timing.run_s": 12.5, "footprints.n_pred": 42, "lod1": {"coverage_pct": 93.5}, "score": np.nan}
    table = pd.DataFrame({"IoU": [0.91, 0.85], "name": ["b1", "b2"]})
    path = render_report(tmp_path / "out" / "report.html", "Quality & co", metrics, figures,
                         {"Matches": table}, ["first note", "second note"])
    assert path == tmp_path / "out" / "report.html" and path.exists()
    assert [p.name for p in path.parent.iterdir()] == ["report.html"]  # no temporary file left
    checker = parse(path)
    text = path.read_text(encoding="utf-8")
    for value in ("1.2345", "0.875", "ASPRS 100-cm", "12.5", "42", "93.5", "n/a"):
        assert f'<td class="value">{value}</td>' in text
    assert "<h3>dsm</h3>" in text and "<h3>lod1</h3>" in text and "<h3>general</h3>" in text
    assert "<td>nmad</td>" in text and "<td>%</td>" in text and "<td>s</td>" in text
    assert "Quality &amp; co" in text
    assert len(checker.images) == len(figures)
    for src in checker.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "0.91" in text and "b2" in text and "first note" in text and "second note" in text


def test_text_is_escaped(tmp_path: Path) -> None:
    path = render_report(tmp_path / "r.html", "<b>title</b>", {"<script>alert(1)</script>": 1.5},
                         tables={"<i>t</i>": pd.DataFrame({"<col>": ["<v>"]})}, notes=["a <note> & more"])
    checker = parse(path)
    text = path.read_text(encoding="utf-8")
    assert "script" not in checker.tags and "<script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&lt;b&gt;title&lt;/b&gt;" in text and "a &lt;note&gt; &amp; more" in text
    assert "&lt;col&gt;" in text and "&lt;v&gt;" in text and "&lt;i&gt;t&lt;/i&gt;" in text
    assert checker.images == []


def test_report_replaces_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "r.html"
    path.write_text("old")
    render_report(path, "new", {"a.b": 1})
    assert "old" not in path.read_text() and "new" in path.read_text()


def test_metric_names_units_and_values() -> None:
    assert split_metric_name("dsm.nmad_m") == ("dsm", "nmad", "m")
    assert split_metric_name("footprints.area_m2") == ("footprints", "area", "m²")
    assert split_metric_name("run.total_s") == ("run", "total", "s")
    assert split_metric_name("lod1.cover_pct") == ("lod1", "cover", "%")
    assert split_metric_name("kappa") == ("general", "kappa", "")
    assert split_metric_name("change.f1_new_building") == ("change", "f1_new_building", "")
    assert format_value(0.123456789) == "0.123457" and format_value(3) == "3"
    assert format_value(np.float32(2.5)) == "2.5" and format_value(float("inf")) == "n/a"
    assert format_value(True) == "yes"


def test_figure_helpers_return_matplotlib_figures() -> None:
    a = np.arange(12.0).reshape(3, 4)
    for fig in (raster_figure(a, "t"), side_by_side([a], ["t"]), error_histogram(np.array([np.nan]), "e")):
        assert isinstance(fig, MplFigure)
    big = raster_figure(np.zeros((3000, 10)), "big")
    assert big.axes[0].images[0].get_array().shape[0] <= 1000
    with pytest.raises(InvalidInputError, match="titles"):
        side_by_side([a, a], ["only one"])
