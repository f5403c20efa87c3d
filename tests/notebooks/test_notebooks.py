"""Every notebook in notebooks/ is executed, with small parameters, by a real Jupyter kernel."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
SMALL = {"01_sample_city_chain": {"SIZE_M": 200.0, "GSD": 1.0, "SEED": 5, "TILE_SIZE": 100, "WORKERS": 2},
         "02_scale_out": {"SIZE_M": 200.0, "GSD": 1.0, "TILE_SIZE": 64, "CLUSTER": "local:2"},
         "05_buildings_3d": {"SIZE_M": 200.0, "GSD": 1.0, "SEED": 5, "TILE_SIZE": 100, "WORKERS": 2},
         "07_landcover_change": {"SIZE_M": 200.0, "GSD": 1.0, "SEED": 3, "WORKERS": 0, "MAX_ITER": 20, "CV_FOLDS": 0,
                                 "SLOVENIA": str(Path(__file__).resolve().parents[3] / "shared" / "data" / "landcover"
                                                 / "slovenia")}}


@pytest.mark.notebooks
@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[n.stem for n in NOTEBOOKS])
def test_notebook_runs(notebook: Path, tmp_path: Path, request: pytest.FixtureRequest):
    import papermill

    params = {"OUT": str(tmp_path / "out"), **SMALL.get(notebook.stem, {})}
    products = tmp_path / "out"
    if notebook.stem == "06_pleiades_dsm_dtm":  # real Pléiades data, 200 m × 200 m with the native engine
        from tests.conftest import shared_data

        params |= {"DATA": str(shared_data("pleiades", "kahramanmaras")), "ROI_M": 200.0, "TILE_SIZE": 256}
    if notebook.stem == "08_building_segmentation":  # real chips, a short schedule
        from tests.conftest import shared_data

        params |= {"DATA": str(shared_data("buildings")), "EPOCHS": 2, "SAMPLES_PER_EPOCH": 16, "ATL_EPOCHS": 1}
    out = tmp_path / notebook.name
    # a cell that never ends fails in 10 minutes, naming itself, instead of holding the run until the test's timeout
    papermill.execute_notebook(str(notebook), str(out), parameters=params, cwd=str(tmp_path),
                               kernel_name="python3", progress_bar=False, execution_timeout=600)
    cells = json.loads(out.read_text())["cells"]
    errors = [o for c in cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    if notebook.stem == "01_sample_city_chain":
        assert (tmp_path / "out" / "report.html").stat().st_size > 10_000
        assert (tmp_path / "out" / "products" / "lod1_1" / "buildings.city.json").is_file()
        shown = [o.get("data", {}) for c in cells for o in c.get("outputs", [])]
        widgets = [d for d in shown if "application/vnd.jupyter.widget-view+json" in d]
        assert len(widgets) >= 2  # the products' map and the 3D view
    if notebook.stem == "05_buildings_3d":
        html = (tmp_path / "out" / "buildings_3d.html").read_text()
        assert "Mesh3d" in html.replace("mesh3d", "Mesh3d") and "<script src=\"http" not in html  # offline
        outputs = [o for c in cells for o in c.get("outputs", [])]
        assert any("roof_type_accuracy" in "".join(o.get("data", {}).get("text/plain", "")) for o in outputs)
    if notebook.stem == "06_pleiades_dsm_dtm":
        products = products / "dsm" / "dsm"
        assert (products / "dsm.tif").is_file() and (products / "dsm_confidence.tif").is_file()
        assert (products / "ortho.tif").is_file()  # shown on the map
        assert (tmp_path / "out" / "terrain" / "terrain" / "ndsm.tif").is_file()
        shown = json.dumps([o.get("data", {}) for c in cells for o in c.get("outputs", [])])
        assert "application/vnd.jupyter.widget-view+json" in shown  # the map was displayed
        assert (tmp_path / "out" / "buildings" / "lod1" / "buildings.city.json").is_file()
        assert any("buildings," in "".join(o.get("text", "")) for c in cells for o in c.get("outputs", []))
    if notebook.stem == "07_landcover_change":
        text = "".join("".join(o.get("data", {}).get("text/plain", "")) + "".join(o.get("text", ""))
                       for c in cells for o in c.get("outputs", []))
        assert "changed buildings F1" in text and "gradient boosting" in text
        assert (tmp_path / "out" / "models" / "sample_city.joblib").is_file()
        assert (tmp_path / "out" / "products" / "building_change" / "buildings.gpkg").is_file()
        change_map = next(c for c in cells if "change_map = raster_map" in "".join(c["source"]))
        assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {})
                   for o in change_map.get("outputs", []))  # the map of the changes was displayed
    if notebook.stem == "08_building_segmentation":
        text = "".join("".join(o.get("data", {}).get("text/plain", "")) + "".join(o.get("text", ""))
                       for c in cells for o in c.get("outputs", []))
        assert "shipped" in text and "miou" in text and "done:" in text
        assert (tmp_path / "out" / "kampala_unet.pt").is_file()
        assert (tmp_path / "out" / "kampala_mosaic" / "segment" / "mask.tif").is_file()
    if notebook.stem == "02_scale_out":
        manifest = json.loads((tmp_path / "out" / "products" / "run.json").read_text())
        assert len(manifest["steps"]["dsm/dsm"]["tiles"]) == 16  # 200 px at 64 px tiles


def test_every_notebook_has_a_parameters_cell():
    assert NOTEBOOKS
    for nb in NOTEBOOKS:
        cells = json.loads(nb.read_text())["cells"]
        assert any("parameters" in c.get("metadata", {}).get("tags", []) for c in cells), nb.name
