"""Notebook widgets (ipywidgets, ipyleaflet, plotly): thin front-ends over the core functions."""

from __future__ import annotations

import importlib
from typing import Any

# imported on first use: widgets pull in ipyleaflet/plotly, which the CLI and workers never need
_LAZY = {"SearchPanel": "search", "View3D": "view3d", "ParamsForm": "forms", "raster_map": "rastermap",
         "raster_overlay": "rastermap", "SwipeView": "compare", "TimeSlider": "compare",
         "SegmentPanel": "segment"}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"ai4geo_lab.widgets.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'ai4geo_lab.widgets' has no attribute {name!r}")
