"""The change legend shared by the sample city's truth, change detection and quality reports."""

from __future__ import annotations

#: class code -> (name, RGB colour for maps)
CHANGE_CLASSES: dict[int, tuple[str, tuple[int, int, int]]] = {
    0: ("no change", (0, 0, 0)),
    1: ("demolished building", (220, 40, 40)),
    2: ("new building", (40, 120, 220)),
    3: ("raised building", (240, 160, 30)),
    4: ("cleared trees", (60, 180, 60)),
}
