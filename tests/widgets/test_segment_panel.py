"""SegmentPanel: the form runs the shipped U-Net with the same code as the CLI and shows the mask on a map."""

from __future__ import annotations

import rasterio

from tests.segmentation.test_unet import write_scene


def test_panel_runs_and_maps_the_mask(tmp_path):
    from ipyleaflet import ImageOverlay

    from ai4geo_lab.widgets import SegmentPanel

    tif, _ = write_scene(tmp_path, "scene", seed=4, size=96)
    panel = SegmentPanel(tif, out=tmp_path / "out")
    panel.form.inputs["threshold"].value = "0.4"
    result = panel.run()
    assert result is not None and panel.result == result and "done" in panel.status.value
    with rasterio.open(result["mask"]) as src:
        assert src.read(1).shape == (96, 96) and set(src.read(1).ravel()) <= {0, 1}
    (leaflet,) = panel.map_box.children
    overlays = [lay for lay in leaflet.layers if isinstance(lay, ImageOverlay)]
    assert [o.name for o in overlays] == ["image", "buildings (mask)"]


def test_panel_shows_errors_instead_of_raising(tmp_path):
    from ai4geo_lab.widgets import SegmentPanel

    panel = SegmentPanel(tmp_path / "missing.tif", out=tmp_path / "out")
    assert panel.run() is None and "does not exist" in panel.status.value
    panel = SegmentPanel(tmp_path / "missing.tif", out=tmp_path / "out")
    panel.form.inputs["threshold"].value = "1.5"
    assert panel.run() is None and "check the parameters" in panel.status.value
    assert "threshold" in panel.form.message.value
