"""``SegmentPanel``: pick a raster and a model, run the U-Net with a progress bar, see the mask over the image."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ai4geo_lab.errors import Ai4geoError
from ai4geo_lab.execution.tiles import DEFAULT_TILE_SIZE


def model_choices(folder: str | Path | None = None) -> list[tuple[str, str]]:
    """(label, value) pairs: the shipped model, then the ``*.pt`` model files in ``folder``."""
    choices = [("shipped default (RGB buildings)", "default")]
    if folder is not None and Path(folder).is_dir():
        choices += [(p.name, str(p)) for p in sorted(Path(folder).glob("*.pt"))]
    return choices


class SegmentPanel:
    """A form (raster, model, parameters, output folder), a Run button, a progress area and a map.

    ``panel.run()`` is what the button does; ``panel.result`` holds the paths written (probability, mask).
    The form is built from :class:`~ai4geo_lab.segmentation.prediction.SegmentParams`, like the CLI options.
    """

    def __init__(self, raster: str | Path | None = None, out: str | Path = "segment-out",
                 models: str | Path | None = None, tile: int | None = None, client: Any = None) -> None:
        import ipywidgets as w

        from ai4geo_lab.segmentation.prediction import SegmentParams
        from ai4geo_lab.widgets.forms import ParamsForm

        self.client = client
        self.tile = tile
        self.result: dict[str, Path] | None = None
        self.raster = w.Text(value=str(raster or ""), description="raster", placeholder="path to a GeoTIFF",
                             style={"description_width": "160px"}, layout={"width": "520px"})
        self.out = w.Text(value=str(out), description="output folder", style={"description_width": "160px"})
        self.model = w.Dropdown(options=model_choices(models), value="default", description="model",
                                style={"description_width": "160px"})
        self.form = ParamsForm(SegmentParams)
        self.form.inputs["model"].layout.display = "none"  # chosen by the dropdown
        self.button = w.Button(description="Run", button_style="primary", icon="play")
        self.button.on_click(lambda _b: self.run())
        self.status = w.HTML()
        self.progress = w.Output()
        self.map_box = w.Box()
        self.widget = w.VBox([self.raster, self.model, self.form.widget, self.out, self.button, self.status,
                              self.progress, self.map_box])

    def run(self) -> dict[str, Path] | None:
        """Segment the raster with the chosen model; show the mask over the image (errors shown in the panel)."""
        from ai4geo_lab.pipeline import run_step

        self.form.inputs["model"].value = self.model.value
        try:
            p = self.form.params()
        except Exception:
            self.status.value = "<b style='color:#b00'>check the parameters above</b>"
            return None
        raster = Path(self.raster.value.strip())
        self.status.value = f"running on {raster.name}…"
        self.button.disabled = True
        try:
            with self.progress:
                self.result = run_step("segment", {"image": raster}, p, self.out.value.strip(), self.client,
                                       tile_size=self.tile or DEFAULT_TILE_SIZE, progress=True)
        except Ai4geoError as exc:
            self.status.value = f"<b style='color:#b00'>{exc.message}</b>" + (f" — {exc.hint}" if exc.hint else "")
            return None
        finally:
            self.button.disabled = False
        self.status.value = f"done: {self.result['mask']}"
        self.map_box.children = (self.map(),)
        return self.result

    def map(self) -> Any:
        """The image with the building mask over it (no tile server)."""
        from ai4geo_lab.widgets.rastermap import raster_map, raster_overlay

        if self.result is None:
            raise RuntimeError("run the panel first")
        image = raster_overlay(self.raster.value.strip(), "ortho", name="image")
        mask = raster_overlay(self.result["mask"], "mask", name="buildings (mask)")
        return raster_map([image, mask])

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
