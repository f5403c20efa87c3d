"""A 3D view of a DSM with LOD1/LOD2 buildings that renders offline (plotly: WebGL, no basemap, no CDN).

In JupyterLab the figure is drawn by the ``jupyterlab-plotly`` extension shipped with plotly; saved as HTML it
embeds plotly.js, so neither needs the network. :func:`building_meshes` triangulates CityJSON solids;
:func:`scene_figure` assembles the terrain surface and the buildings; :class:`View3D` adds switches.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import Polygon

from ai4geo_lab.errors import InvalidInputError, MissingDependencyError
from ai4geo_lab.geo.atomic import write_text_atomic

#: colours of the semantic surfaces: ground, roof, wall
SURFACE_COLOURS = {"GroundSurface": "#8c8c8c", "RoofSurface": "#c0392b", "WallSurface": "#e8dcc8"}


def _plotly() -> Any:
    try:
        import plotly.graph_objects as go
    except ImportError as exc:  # pragma: no cover - plotly is a core dependency
        raise MissingDependencyError("plotly is needed for the 3D view", "pip install plotly") from exc
    return go


def _triangles(ring_ids: list[list[int]], verts: np.ndarray) -> list[tuple[int, int, int]]:
    """Triangles (vertex indices) of one planar surface with optional holes."""
    pts = [verts[r] for r in ring_ids]
    ext = pts[0]
    # Newell normal: which plane to triangulate in
    n = np.zeros(3)
    for a, b in zip(ext, np.roll(ext, -1, axis=0), strict=True):
        n += [(a[1] - b[1]) * (a[2] + b[2]), (a[2] - b[2]) * (a[0] + b[0]), (a[0] - b[0]) * (a[1] + b[1])]
    drop = int(np.argmax(np.abs(n)))  # project along the dominant normal component
    keep = [i for i in range(3) if i != drop]
    lookup = {}
    for ids, p in zip(ring_ids, pts, strict=True):
        for i, q in zip(ids, p, strict=True):
            lookup[(round(q[keep[0]], 6), round(q[keep[1]], 6))] = i
    poly = Polygon(ext[:, keep], [p[:, keep] for p in pts[1:]])
    if not poly.is_valid or poly.area <= 0:
        return [(ring_ids[0][0], ring_ids[0][k], ring_ids[0][k + 1]) for k in range(1, len(ring_ids[0]) - 1)]
    out = []
    for tri in shapely.get_parts(shapely.constrained_delaunay_triangles(poly)):
        c = np.asarray(tri.exterior.coords)[:3]
        v0, v1, v2 = (lookup.get((round(x, 6), round(y, 6))) for x, y in c)
        if v0 is not None and v1 is not None and v2 is not None:
            out.append((v0, v1, v2))
    return out


def building_meshes(doc: dict, lod: str = "2") -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Triangle meshes of a CityJSON document's buildings at the first geometry whose LOD starts with ``lod``
    (falling back to the highest), per semantic surface type: ``{type: (vertices (n, 3), triangles (m, 3))}``."""
    t = doc.get("transform") or {"scale": [1, 1, 1], "translate": [0, 0, 0]}
    verts = np.asarray(doc.get("vertices", []), dtype=np.float64).reshape(-1, 3) * t["scale"] + t["translate"]
    tris: dict[str, list[tuple[int, int, int]]] = {k: [] for k in SURFACE_COLOURS}
    for obj in doc.get("CityObjects", {}).values():
        geoms = obj.get("geometry") or []
        if not geoms:
            continue
        chosen = next((g for g in geoms if str(g.get("lod", "")).startswith(lod)),
                      max(geoms, key=lambda g: str(g.get("lod", ""))))
        if chosen.get("type") != "Solid":
            continue
        sem = chosen.get("semantics") or {}
        kinds = [s["type"] for s in sem.get("surfaces", [])]
        values = (sem.get("values") or [[]])[0]
        for si, surface in enumerate(chosen["boundaries"][0]):
            kind = kinds[values[si]] if si < len(values) and values[si] is not None else "WallSurface"
            tris.setdefault(kind, []).extend(_triangles(surface, verts))
    return {k: (verts, np.asarray(v, dtype=np.int64).reshape(-1, 3)) for k, v in tris.items() if v}


def scene_figure(doc: dict | None = None, dsm: np.ndarray | None = None, transform: Any = None,
                 lod: str = "2", max_dsm_pixels: int = 200, title: str = "") -> Any:
    """A plotly figure: the DSM as a shaded surface (decimated to ``max_dsm_pixels`` a side) and the
    buildings of a CityJSON document at ``lod``, in map coordinates with true proportions."""
    go = _plotly()
    if doc is None and dsm is None:
        raise InvalidInputError("nothing to show", "give a CityJSON document, a DSM, or both")
    traces = []
    if dsm is not None:
        if transform is None:
            raise InvalidInputError("a DSM needs its transform", "pass transform= (rasterio/affine)")
        a = np.asarray(dsm, dtype=np.float64)
        step = max(1, int(np.ceil(max(a.shape) / max_dsm_pixels)))
        sub = a[::step, ::step]
        cols = (np.arange(sub.shape[1]) * step + 0.5)
        rows = (np.arange(sub.shape[0]) * step + 0.5)
        x = transform.c + cols * transform.a
        y = transform.f + rows * transform.e
        traces.append(go.Surface(x=x, y=y, z=sub, colorscale="Earth", showscale=False, opacity=0.9 if doc else 1,
                                 name="DSM", hoverinfo="skip"))
    if doc is not None:
        for kind, (verts, tri) in building_meshes(doc, lod).items():
            traces.append(go.Mesh3d(x=verts[:, 0], y=verts[:, 1], z=verts[:, 2], i=tri[:, 0], j=tri[:, 1],
                                    k=tri[:, 2], color=SURFACE_COLOURS.get(kind, "#cccccc"), flatshading=True,
                                    name=kind, showlegend=True, lighting={"ambient": 0.6, "diffuse": 0.8}))
    fig = go.Figure(traces)
    fig.update_layout(title=title, margin={"l": 0, "r": 0, "t": 30 if title else 0, "b": 0}, height=600,
                      scene={"aspectmode": "data", "xaxis_title": "E (m)", "yaxis_title": "N (m)",
                             "zaxis_title": "height (m)"})
    return fig


def save_html(fig: Any, path: str | Path) -> Path:
    """The figure as a standalone HTML page with plotly.js embedded (opens offline), written atomically."""
    return write_text_atomic(Path(path), fig.to_html(include_plotlyjs=True, full_html=True))


class View3D:
    """A notebook view of buildings over a DSM, with switches for the level of detail and the terrain.

    ``View3D(doc, dsm, transform).widget`` is an ipywidgets box; displaying the object shows it.
    """

    def __init__(self, doc: dict | None, dsm: np.ndarray | None = None, transform: Any = None,
                 max_dsm_pixels: int = 200) -> None:
        import ipywidgets as w

        self.doc, self.dsm, self.transform, self.max_dsm_pixels = doc, dsm, transform, max_dsm_pixels
        self.lod = w.ToggleButtons(options=[("LOD1", "1"), ("LOD2", "2")], value="2", description="buildings")
        self.terrain = w.Checkbox(value=dsm is not None, description="DSM", disabled=dsm is None)
        self.output = w.Output()
        self.lod.observe(lambda _: self.render(), "value")
        self.terrain.observe(lambda _: self.render(), "value")
        self.widget = w.VBox([w.HBox([self.lod, self.terrain]), self.output])
        self.render()

    def figure(self) -> Any:
        """The figure for the current switches."""
        return scene_figure(self.doc, self.dsm if self.terrain.value else None, self.transform, self.lod.value,
                            self.max_dsm_pixels)

    def render(self) -> None:
        """Redraw the figure into the widget's output.

        The output is set as data, not captured with ``with self.output: fig.show()``: capturing routes the
        kernel's messages through the widget, and a notebook run headless (papermill, nbclient) could then wait
        forever for a cell that had finished.
        """
        import plotly.io as pio

        bundle = pio.renderers["plotly_mimetype"].to_mimebundle(self.figure().to_dict())
        self.output.outputs = ({"output_type": "display_data", "data": bundle, "metadata": {}},)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
