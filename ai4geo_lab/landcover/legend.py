"""Land-cover legends: codes, names, colours and how a detailed legend folds into a coarser one.

A :class:`Legend` is a pydantic model, so a legend can be written as YAML or JSON and validated like the
chain's parameters. The built-in legends:

- :data:`LULC10` (the default): 10 classes, the codes of the Slovenian land-use reference (cultivated land,
  forest, grassland, shrubland, water, wetlands, tundra, artificial surface, bareland, snow and ice);
- :data:`LULC30`: 30 classes, each refining one class of :data:`LULC10` (``parent``), for VHR work;
- :data:`SAMPLE_CITY`: the 6 classes of the sample city's truth, folding into :data:`LULC10`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ai4geo_lab.errors import ConfigError, InputNotFoundError
from ai4geo_lab.landcover.classes import LANDCOVER_CLASSES

RGB = tuple[int, int, int]


class LegendClass(BaseModel):
    """One class: its code in rasters (1–255), name, map colour and, optionally, the code it refines."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    code: int = Field(ge=1, le=255)
    name: str = Field(min_length=1)
    color: tuple[int, int, int] = (128, 128, 128)
    parent: int | None = Field(default=None, description="code of the class of the coarser legend it refines")
    description: str = ""


class Legend(BaseModel):
    """An ordered set of classes; code 0 (``nodata``) is never a class."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    classes: list[LegendClass] = Field(min_length=1)
    nodata: int = 0
    coarser: str | None = Field(default=None, description="name of the legend that ``parent`` codes refer to")

    @model_validator(mode="after")
    def _distinct(self) -> Legend:
        codes = [c.code for c in self.classes]
        names = [c.name for c in self.classes]
        checks: list[tuple[str, list[Any]]] = [("codes", codes), ("names", names)]
        for what, values in checks:
            dup = sorted({v for v in values if values.count(v) > 1}, key=str)
            if dup:
                raise ValueError(f"legend '{self.name}': {what} used twice: {dup}")
        if self.nodata in codes:
            raise ValueError(f"legend '{self.name}': code {self.nodata} is the nodata value, not a class")
        return self

    def __len__(self) -> int:
        return len(self.classes)

    @property
    def codes(self) -> list[int]:
        """Class codes, in legend order."""
        return [c.code for c in self.classes]

    @property
    def names(self) -> dict[int, str]:
        """code → name."""
        return {c.code: c.name for c in self.classes}

    def code(self, name: str) -> int:
        """The code of a class by name (case-insensitive)."""
        for c in self.classes:
            if c.name.lower() == name.lower():
                return c.code
        raise ConfigError(f"legend '{self.name}' has no class '{name}'",
                          f"its classes: {', '.join(c.name for c in self.classes)}")

    def colormap(self) -> dict[int, tuple[int, int, int, int]]:
        """code → RGBA, the form rasterio's ``write_colormap`` takes (nodata transparent)."""
        cmap = {self.nodata: (0, 0, 0, 0)}
        cmap.update({c.code: (*c.color, 255) for c in self.classes})
        return cmap

    def rgb(self, classes: np.ndarray) -> np.ndarray:
        """An (H, W, 3) uint8 picture of a class raster (nodata and unknown codes black)."""
        lut = np.zeros((256, 3), np.uint8)
        for c in self.classes:
            lut[c.code] = c.color
        return lut[np.clip(np.asarray(classes), 0, 255).astype(np.uint8)]

    def remap(self, classes: np.ndarray, mapping: dict[int, int]) -> np.ndarray:
        """Codes replaced through ``mapping``; codes it does not name become nodata."""
        lut = np.full(256, self.nodata, np.uint8)
        for src, dst in mapping.items():
            lut[int(src)] = int(dst)
        return lut[np.asarray(classes).astype(np.uint8)]

    def to_coarser(self, classes: np.ndarray) -> np.ndarray:
        """A class raster of this legend expressed in its coarser legend (through each class's ``parent``)."""
        missing = [c.name for c in self.classes if c.parent is None]
        if missing:
            raise ConfigError(f"legend '{self.name}': classes without a parent: {', '.join(missing)}",
                              "give every class a 'parent' code to fold it into a coarser legend")
        return self.remap(classes, {c.code: c.parent for c in self.classes if c.parent is not None})

    def subset(self, codes: list[int], name: str | None = None) -> Legend:
        """The legend restricted to ``codes`` (e.g. the classes present in a reference)."""
        keep = [c for c in self.classes if c.code in set(codes)]
        return self.model_copy(update={"classes": keep, "name": name or f"{self.name}-subset"})

    def extend(self, classes: list[LegendClass | dict[str, Any]], name: str | None = None) -> Legend:
        """A new legend with more classes (validated: codes and names stay distinct)."""
        extra = [c if isinstance(c, LegendClass) else LegendClass.model_validate(c) for c in classes]
        return Legend.model_validate({"name": name or f"{self.name}+", "nodata": self.nodata,
                                      "coarser": self.coarser,
                                      "classes": [c.model_dump() for c in [*self.classes, *extra]]})

    def save(self, path: str | Path) -> Path:
        """Write the legend as JSON (``.json``) or YAML (any other suffix)."""
        path = Path(path)
        data = self.model_dump(mode="json")
        if path.suffix.lower() == ".json":
            path.write_text(json.dumps(data, indent=1))
        else:
            import yaml

            path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path


def load_legend(spec: str | Path | dict[str, Any] | Legend) -> Legend:
    """A legend from a built-in name (``lulc10``, ``lulc30``, ``sample_city``), a YAML/JSON file or a mapping."""
    if isinstance(spec, Legend):
        return spec
    if isinstance(spec, str) and spec.lower() in BUILTIN_LEGENDS:
        return BUILTIN_LEGENDS[spec.lower()]
    if isinstance(spec, dict):
        data = spec
        where = "legend"
    else:
        path = Path(spec)
        if not path.is_file():
            raise InputNotFoundError(f"legend '{spec}' is neither a built-in legend nor a file",
                                     f"built-in legends: {', '.join(BUILTIN_LEGENDS)}; or a YAML/JSON file")
        from ai4geo_lab.yamlfile import read_yaml

        data = json.loads(path.read_text()) if path.suffix.lower() == ".json" else read_yaml(path, "legend file")
        where = str(path)
    try:
        return Legend.model_validate(data)
    except ValidationError as exc:
        from ai4geo_lab.errors import format_validation_error

        raise ConfigError(f"{where}: invalid legend: {format_validation_error(exc)}",
                          "a legend has a name and classes [{code, name, color, parent}]") from exc


def _legend(name: str, rows: list[tuple], coarser: str | None = None) -> Legend:
    classes = [LegendClass(code=r[0], name=r[1], color=r[2], parent=r[3] if len(r) > 3 else None) for r in rows]
    return Legend(name=name, classes=classes, coarser=coarser)


LULC10 = _legend("lulc10", [
    (1, "cultivated land", (255, 255, 0)),
    (2, "forest", (5, 73, 7)),
    (3, "grassland", (255, 165, 0)),
    (4, "shrubland", (128, 96, 0)),
    (5, "water", (6, 154, 243)),
    (6, "wetlands", (149, 208, 252)),
    (7, "tundra", (150, 123, 182)),
    (8, "artificial surface", (220, 20, 60)),
    (9, "bareland", (166, 166, 166)),
    (10, "snow and ice", (255, 255, 255)),
])

LULC30 = _legend("lulc30", [
    (11, "annual crops", (255, 255, 100), 1),
    (12, "permanent crops", (230, 200, 0), 1),
    (13, "vineyards", (200, 120, 170), 1),
    (21, "broadleaved forest", (40, 150, 40), 2),
    (22, "coniferous forest", (0, 80, 30), 2),
    (23, "mixed forest", (20, 110, 40), 2),
    (31, "natural grassland", (255, 190, 80), 3),
    (32, "pasture and meadow", (230, 150, 30), 3),
    (33, "urban green", (160, 220, 100), 3),
    (41, "shrubland", (128, 96, 0), 4),
    (42, "heathland", (170, 110, 60), 4),
    (43, "transitional woodland", (150, 150, 40), 4),
    (51, "river", (0, 120, 230), 5),
    (52, "lake", (6, 154, 243), 5),
    (53, "sea", (0, 60, 160), 5),
    (61, "inland marsh", (149, 208, 252), 6),
    (62, "peat bog", (120, 160, 200), 6),
    (63, "coastal wetland", (180, 220, 240), 6),
    (71, "tundra", (150, 123, 182), 7),
    (72, "moss and lichen", (200, 180, 220), 7),
    (81, "building", (220, 20, 60), 8),
    (82, "road", (90, 90, 90), 8),
    (83, "other sealed surface", (170, 80, 80), 8),
    (84, "industrial and commercial", (200, 0, 120), 8),
    (85, "construction site", (255, 120, 120), 8),
    (91, "bare rock", (130, 130, 130), 9),
    (92, "bare soil", (190, 150, 100), 9),
    (93, "sand", (240, 220, 160), 9),
    (94, "sparse vegetation", (200, 200, 140), 9),
    (101, "snow and ice", (255, 255, 255), 10),
], coarser="lulc10")

_CITY_PARENT = {"building": 8, "road": 8, "tree": 2, "grass": 3, "bare soil": 9, "water": 5}
SAMPLE_CITY = _legend("sample_city", [(code, name, color, _CITY_PARENT[name])
                                      for code, (name, color) in LANDCOVER_CLASSES.items()], coarser="lulc10")

#: The legend used when none is given.
DEFAULT_LEGEND = LULC10

BUILTIN_LEGENDS: dict[str, Legend] = {"lulc10": LULC10, "lulc30": LULC30, "sample_city": SAMPLE_CITY}
