"""Labelled datasets as STAC: Banepa's label item read as chips, written datasets read back, raster labels,
catalogs, and `ai4geo segment dataset|evaluate` with their one-line errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from rasterio.features import rasterize
from rasterio.transform import from_origin
from shapely.geometry import Polygon

from ai4geo_lab.errors import InputNotFoundError, InvalidInputError, OutputNotWritableError
from ai4geo_lab.segmentation.chips import IGNORE, read_chips
from ai4geo_lab.segmentation.datasets import load_dataset
from ai4geo_lab.segmentation.stac_labels import label_items, read_label_dataset, write_label_dataset
from tests.conftest import shared_data

CRS = "EPSG:32645"  # UTM 45N (Nepal)


def banepa_item() -> Path:
    return shared_data("buildings", "banepa", "buildings-banepa-segmentation", "stac-item.json")


def aux_transform(tif: Path) -> tuple[float, ...]:
    """The GDAL geotransform of the .aux.xml beside an image, read as text (not through GDAL)."""
    text = Path(f"{tif}.aux.xml").read_text()
    values = re.search(r"<GeoTransform>(.*)</GeoTransform>", text)
    assert values is not None
    return tuple(float(v) for v in values.group(1).split(","))


def write_scene(folder: Path, size: int = 200, gsd: float = 0.5, seed: int = 0) -> tuple[Path, Path]:
    """An RGB uint8 GeoTIFF (UTM) with bright slanted quadrilaterals, and their outlines in WGS84 GeoJSON."""
    rng = np.random.default_rng(seed)
    x0, y0 = 350_000.0, 3_060_000.0
    transform = from_origin(x0, y0, gsd, gsd)
    polys = []
    for _ in range(12):
        cx, cy = x0 + rng.uniform(5, size * gsd - 5), y0 - rng.uniform(5, size * gsd - 5)
        w, h, a = rng.uniform(3, 9), rng.uniform(3, 9), rng.uniform(0, np.pi)
        corners = np.array([[-w, -h], [w, -h], [w, h], [-w, h]]) / 2
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        polys.append(Polygon(corners @ rot.T + [cx, cy]))
    mask = rasterize(((p, 1) for p in polys), out_shape=(size, size), transform=transform)
    img = rng.normal(70, 10, (3, size, size)) + 120 * mask
    folder.mkdir(parents=True, exist_ok=True)
    tif = folder / "scene.tif"
    with rasterio.open(tif, "w", driver="GTiff", width=size, height=size, count=3, dtype="uint8", crs=CRS,
                       transform=transform) as dst:
        dst.write(np.clip(img, 0, 255).astype(np.uint8))
    labels = folder / "scene.geojson"
    gpd.GeoDataFrame({"building": ["yes"] * len(polys)}, geometry=polys, crs=CRS).to_crs(4326).to_file(labels)
    return tif, labels


@pytest.mark.realdata
def test_banepa_label_item_gives_the_masks_of_its_geojson() -> None:
    item = banepa_item()
    chips = read_label_dataset(item, region="banepa")
    oam = item.parent.parent / "train" / "oam"
    assert len(chips) == len(list(oam.glob("*.tif"))) == 48
    osm = gpd.read_file(next((item.parent.parent / "train" / "osm").glob("*.geojson")))
    for chip in chips:
        tif = oam / f"{chip.name.split('@')[0]}.tif"
        gt = aux_transform(tif)  # the georeferencing comes from the .aux.xml beside the JPEG GeoTIFF
        assert chip.transform.to_gdal() == pytest.approx(gt, abs=1e-12) and chip.crs.to_epsg() == 4326
        direct = rasterize(((g, 1) for g in osm.geometry), out_shape=chip.mask.shape,
                           transform=rasterio.Affine.from_gdal(*gt), dtype="uint8")
        assert np.mean(chip.mask == direct) >= 0.999, chip.name
        assert chip.source == "banepa" and chip.group == "z19" and chip.image.shape == (3, 512, 512)
        assert chip.gsd_m == pytest.approx(0.13, abs=0.01)
    assert 0.3 < np.mean([c.mask.mean() for c in chips]) < 0.6  # a dense town


def test_written_dataset_reads_back_with_its_masks_and_georeferencing(tmp_path: Path) -> None:
    tif, labels = write_scene(tmp_path / "in")
    collection = write_label_dataset(tif, labels, tmp_path / "ds", chip_size=96, region="nowhere")
    assert collection == tmp_path / "ds" / "collection.json"
    back = read_label_dataset(collection)
    direct = read_chips([tif], labels, source="direct", chip_size=96)
    assert len(back) == len(direct) == 4  # 96 + 96 + a 8 px sliver, left out, on each axis
    for b, d in zip(back, direct, strict=True):
        assert np.array_equal(b.mask, d.mask) and np.array_equal(b.image, d.image)
        assert b.transform == d.transform and b.crs == d.crs
        assert b.source == "nowhere" and b.gsd_m == pytest.approx(0.5)
    assert sum(int(b.mask.sum()) for b in back) > 500
    items = label_items(collection)
    assert len(items) == 4 and all(i.properties["label:type"] == "vector" for i in items)
    meta = json.loads(next((tmp_path / "ds").glob("*-labels/*-labels.json")).read_text())
    assert any("/label/" in e for e in meta["stac_extensions"])
    source = next(link for link in meta["links"] if link["rel"] == "source")
    assert not Path(source["href"]).is_absolute() and meta["assets"]["labels"]["href"].startswith("./")
    image_item = json.loads((tmp_path / "ds" / "nowhere-0-96" / "nowhere-0-96.json").read_text())
    assert image_item["properties"]["proj:code"] == CRS and image_item["properties"]["proj:shape"] == [96, 96]
    assert image_item["properties"]["proj:transform"] == list(back[1].transform)[:6]
    with pytest.raises(OutputNotWritableError):
        write_label_dataset(tif, labels, tmp_path / "ds", chip_size=96)
    write_label_dataset(tif, labels, tmp_path / "ds", chip_size=200, overwrite=True)
    assert len(read_label_dataset(tmp_path / "ds")) == 1  # the folder is read through its collection.json


@pytest.mark.realdata
def test_banepa_image_written_as_a_dataset_round_trips(tmp_path: Path) -> None:
    root = banepa_item().parent.parent
    tif = root / "train" / "oam" / "OAM-386693-220244-19.tif"
    osm = next((root / "train" / "osm").glob("*.geojson"))
    write_label_dataset(tif, osm, tmp_path / "ds", chip_size=256, region="banepa")
    back = read_label_dataset(tmp_path / "ds" / "collection.json")
    direct = read_chips([tif], osm, source="banepa", chip_size=256)
    assert len(back) == 4
    for b, d in zip(back, direct, strict=True):
        assert np.mean(b.mask == d.mask) >= 0.999 and np.array_equal(b.image, d.image)
        assert b.transform.almost_equals(d.transform, 1e-12) and b.crs == d.crs


def test_raster_labels_and_catalogs_of_mixed_items(tmp_path: Path) -> None:
    tif, labels = write_scene(tmp_path / "data", size=64)
    with rasterio.open(tif) as src:
        profile, transform = src.profile, src.transform
    truth = read_chips([tif], labels, source="x", chip_size=64)[0].mask
    mask = truth.copy()
    mask[:, :8] = 255  # nodata: unlabelled
    with rasterio.open(tmp_path / "data" / "mask.tif", "w", **{**profile, "count": 1, "nodata": 255}) as dst:
        dst.write(mask[None])
    label = {"type": "Feature", "stac_version": "1.1.0", "id": "masks",
             "stac_extensions": ["https://stac-extensions.github.io/label/v1.0.1/schema.json"],
             "geometry": None, "properties": {"datetime": "2024-01-01T00:00:00Z", "label:type": "raster",
                                              "label:description": "building masks", "label:properties": None,
                                              "ai4geo:region": "synthetic"},
             "links": [{"rel": "source", "href": "../data/scene.tif"}],
             "assets": {"labels": {"href": "../data/mask.tif", "roles": ["labels"]}}}
    plain = {**label, "id": "plain", "stac_extensions": [], "properties": {"datetime": "2024-01-01T00:00:00Z"},
             "links": [], "assets": {"image": {"href": "../data/scene.tif", "roles": ["data"]}}}
    for item in (label, plain):
        (tmp_path / item["id"]).mkdir()
        (tmp_path / item["id"] / "item.json").write_text(json.dumps(item))
    catalog = {"type": "Catalog", "stac_version": "1.1.0", "id": "c", "description": "d",
               "links": [{"rel": "item", "href": "./masks/item.json"}, {"rel": "item", "href": "./plain/item.json"}]}
    (tmp_path / "catalog.json").write_text(json.dumps(catalog))
    chips = read_label_dataset(tmp_path / "catalog.json")
    assert len(chips) == 1 and chips[0].source == "synthetic"
    assert np.array_equal(chips[0].mask[:, 8:], truth[:, 8:]) and (chips[0].mask[:, :8] == IGNORE).all()
    assert chips[0].transform == transform
    with pytest.raises(InvalidInputError, match="no label extension"):
        read_label_dataset(tmp_path / "plain" / "item.json")


@pytest.mark.realdata
def test_banepa_detection_item_is_refused_in_one_line() -> None:
    item = shared_data("buildings", "banepa", "buildings-banepa-detection", "stac-item.json")
    with pytest.raises(InvalidInputError, match=r"no vector features \(label:tasks: object-detection\)"):
        read_label_dataset(item)


def test_datasets_by_name_or_path(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError, match="not a built-in name"):
        load_dataset(tmp_path / "nope.json")
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(InvalidInputError, match="not a STAC"):
        load_dataset(tmp_path / "x.json")
    with pytest.raises(InputNotFoundError, match="dataset kampala-val"):
        load_dataset("kampala-val", data=tmp_path)


# ---- the command line -------------------------------------------------------------------------------------------


def components(mask: np.ndarray, min_area: int) -> list[np.ndarray]:
    from scipy.ndimage import label

    lab, n = label(mask)
    parts = [lab == k for k in range(1, n + 1)]
    return [p for p in parts if p.sum() >= min_area]


def direct_object_counts(pred: np.ndarray, ref: np.ndarray, min_area: int = 30) -> tuple[int, int, int]:
    """(n_pred, n_ref, n_matched) by pixel overlaps of 4-connected regions, IoU ≥ 0.5 (unique when > 0.5)."""
    p, r = components(pred, min_area), components(ref, min_area)
    matched = sum(any((a & b).sum() / (a | b).sum() >= 0.5 for a in p) for b in r)
    return len(p), len(r), matched


@pytest.mark.realdata
def test_cli_evaluate_prints_the_scores_of_a_direct_computation(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture) -> None:
    from ai4geo_lab.cli import main
    from ai4geo_lab.metrics import segmentation_scores
    from ai4geo_lab.segmentation.evaluation import evaluation_limits
    from ai4geo_lab.segmentation.infer import predict_proba, scale_inputs
    from ai4geo_lab.segmentation.unet import load_unet

    data = shared_data("buildings")
    out = tmp_path / "scores.json"
    assert main(["segment", "evaluate", "default", "banepa", "kampala-val", "--data", str(data), "--limit", "2",
                 "--backend", "int8", "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert re.search(r"^banepa\s+banepa\s+2 \|", table, re.M) and re.search(r"^kampala-val\s+kampala\s+2 \|", table,
                                                                            re.M)
    rows = {r["dataset"]: r for r in json.loads(out.read_text())["rows"]}
    model = load_unet()
    for name in ("banepa", "kampala-val"):
        chips = load_dataset(name, data, limit=2)
        limits = evaluation_limits(model, chips)
        preds, refs, counts = [], [], np.zeros(3, int)
        for c in chips:
            prob = predict_proba(model, scale_inputs(c.image, limits[c.source])[0], gsd_m=c.gsd_m, backend="int8")
            labelled = c.mask != IGNORE
            preds.append(prob[labelled] >= 0.5)
            refs.append(c.mask[labelled])
            counts += direct_object_counts((prob >= 0.5) & labelled, c.mask == 1)
        direct = segmentation_scores(np.concatenate(preds), np.concatenate(refs))
        pixels, objects = rows[name]["pixels"], rows[name]["objects"]
        for key in ("iou", "precision", "recall", "f1"):
            assert pixels[key] == pytest.approx(direct[key], abs=1e-9)
            assert f"{pixels[key]:.3f}" in table
        assert (objects["n_pred"], objects["n_ref"], objects["n_matched"]) == tuple(counts)
        assert objects["recall"] == pytest.approx(counts[2] / counts[1])


def test_cli_dataset_then_evaluate(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from ai4geo_lab.cli import main

    tif, labels = write_scene(tmp_path / "in", size=128)
    assert main(["segment", "dataset", str(tif), str(labels), "--out", str(tmp_path / "ds"), "--chip-size", "64",
                 "--region", "toy"]) == 0
    assert "4 labelled chips" in capsys.readouterr().out
    assert main(["segment", "evaluate", "buildings_rgb", str(tmp_path / "ds" / "collection.json"),
                 "--json", str(tmp_path / "s.json")]) == 0
    assert re.search(r"collection\.json\s+toy\s+4 \|", capsys.readouterr().out)
    assert json.loads((tmp_path / "s.json").read_text())["rows"][0]["chips"] == 4
    # two regions in one catalog: a row for all, one per region
    assert main(["segment", "dataset", str(tif), str(labels), "--out", str(tmp_path / "ds2"), "--chip-size", "128",
                 "--region", "other"]) == 0
    catalog = {"type": "Catalog", "stac_version": "1.1.0", "id": "both", "description": "two regions",
               "links": [{"rel": "child", "href": "./ds/collection.json"},
                         {"rel": "child", "href": "./ds2/collection.json"}]}
    (tmp_path / "catalog.json").write_text(json.dumps(catalog))
    capsys.readouterr()
    assert main(["segment", "evaluate", "default", str(tmp_path), "--json", str(tmp_path / "s.json")]) == 0
    rows = json.loads((tmp_path / "s.json").read_text())["rows"]
    assert [(r["region"], r["chips"]) for r in rows] == [("all", 5), ("other", 1), ("toy", 4)]
    assert rows[0]["pixels"]["tp"] == rows[1]["pixels"]["tp"] + rows[2]["pixels"]["tp"]
    assert rows[0]["objects"]["n_ref"] == rows[1]["objects"]["n_ref"] + rows[2]["objects"]["n_ref"]


def test_cli_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from ai4geo_lab.cli import main

    tif, labels = write_scene(tmp_path / "in", size=64)
    plain = {"type": "Feature", "stac_version": "1.1.0", "id": "plain", "geometry": None, "links": [],
             "properties": {"datetime": "2024-01-01T00:00:00Z"}, "assets": {"image": {"href": str(tif)}}}
    (tmp_path / "plain.json").write_text(json.dumps(plain))
    (tmp_path / "bad.pt").write_bytes(b"not a model")
    main(["segment", "dataset", str(tif), str(labels), "--out", str(tmp_path / "ds"), "--chip-size", "64"])
    capsys.readouterr()
    cases = [
        (["segment", "evaluate", "default", str(tmp_path / "nope.json")], "not a built-in name nor an existing path"),
        (["segment", "evaluate", "default", str(tmp_path / "plain.json")], "has no label extension"),
        (["segment", "evaluate", "default", str(tif)], "is not a STAC item"),
        (["segment", "evaluate", "default", str(labels)], "is not a STAC item"),
        (["segment", "evaluate", str(tmp_path / "bad.pt"), str(tmp_path / "ds")], "not a readable model file"),
        (["segment", "evaluate", str(tmp_path / "no.pt"), str(tmp_path / "ds")], "no model file"),
        (["segment", "evaluate", "default", str(tmp_path / "ds"), "--views", "3"], "views must be"),
        (["segment", "dataset", str(tmp_path / "no.tif"), str(labels), "--out", str(tmp_path / "o")],
         "does not exist"),
        (["segment", "dataset", str(tif), str(tmp_path / "no.geojson"), "--out", str(tmp_path / "o")],
         "does not exist"),
        (["segment", "dataset", str(tif), str(labels), "--out", str(tmp_path / "ds")], "already holds a dataset"),
        (["segment", "train-satellite", "--data", str(shared_data("buildings")), "--out", str(tmp_path / "p.pt"),
          "--dataset", "kampala-train", "--dataset", "atlanta:0.5"], "must not train on it"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("ai4geo: error:") and message in err, (argv, err)
        assert err.count("\n") == 1 and "Traceback" not in err


def test_cli_trains_a_panchromatic_model_on_weighted_stac_datasets(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture) -> None:
    import torch

    from ai4geo_lab.cli import main
    from ai4geo_lab.segmentation.unet import load_unet

    torch.set_num_threads(1)
    for region, seed in (("north", 0), ("south", 1)):
        tif, labels = write_scene(tmp_path / f"in-{region}", size=128, seed=seed)
        assert main(["segment", "dataset", str(tif), str(labels), "--out", str(tmp_path / region), "--chip-size",
                     "64", "--region", region]) == 0
    out = tmp_path / "m" / "pan.pt"
    capsys.readouterr()
    assert main(["segment", "train", "--out", str(out), "--dataset", f"{tmp_path / 'north'}:3",
                 "--dataset", str(tmp_path / "south"), "--val-dataset", str(tmp_path / "south"), "--inputs", "pan",
                 "--generalise", "--gsd-range", "0.4,0.6", "--epochs", "1", "--samples", "2", "--crop", "32"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["epochs"] == 1 and "val_iou_last1_mean" in report
    model = load_unet(out)
    assert model.spec.inputs == ("pan",) and model.meta["train"]["source_shares"] == {"north": 3.0, "south": 1.0}
    assert model.meta["train"]["augment"]["gsd_range"] == [0.4, 0.6]
    assert main(["segment", "train", "--out", str(out)]) == 2  # nothing to train on: a one-line error
