"""The land-cover legend shared by the sample city, the classifiers and the quality reports."""

from __future__ import annotations

NODATA = 0

#: class code -> (name, RGB colour for maps)
LANDCOVER_CLASSES: dict[int, tuple[str, tuple[int, int, int]]] = {
    1: ("building", (220, 60, 50)),
    2: ("road", (90, 90, 90)),
    3: ("tree", (20, 110, 30)),
    4: ("grass", (140, 200, 90)),
    5: ("bare soil", (190, 150, 100)),
    6: ("water", (40, 100, 200)),
}
