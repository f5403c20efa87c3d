"""U-Net segmentation: chips with labels rasterised on the fly, blended inference, training, tiled predict."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import torch
from rasterio.enums import Compression
from rasterio.transform import from_origin
from shapely.geometry import box

from ai4geo_lab.errors import ConfigError, InputNotFoundError, InvalidInputError
from ai4geo_lab.metrics import segmentation_scores
from ai4geo_lab.segmentation import (
    DEFAULT_MODEL,
    TrainParams,
    UnetModel,
    UnetSpec,
    load_unet,
    predict,
    predict_proba,
    read_chips,
    train,
)
from ai4geo_lab.segmentation.chips import IGNORE, Chip, augment, xyz_mosaics
from ai4geo_lab.segmentation.infer import ramp_weights, scale_inputs
from ai4geo_lab.segmentation.unet import bf16_native

CRS = "EPSG:32631"


def write_scene(folder: Path, name: str, seed: int, size: int = 128, gsd: float = 0.5) -> tuple[Path, Path]:
    """An RGB uint8 GeoTIFF of bright rectangles on a textured ground, and their outlines in WGS84 GeoJSON."""
    rng = np.random.default_rng(seed)
    x0, y0 = 500000.0 + 1000 * seed, 4800000.0
    transform = from_origin(x0, y0, gsd, gsd)
    img = rng.normal(60, 12, (3, size, size))
    boxes = []
    for _ in range(5):
        r, c = rng.integers(0, size - 30, 2)
        h, w = rng.integers(10, 28, 2)
        img[:, r:r + h, c:c + w] = rng.normal(190, 10, (3, 1, 1)) + rng.normal(0, 6, (3, h, w))
        boxes.append(box(x0 + c * gsd, y0 - (r + h) * gsd, x0 + (c + w) * gsd, y0 - r * gsd))
    folder.mkdir(parents=True, exist_ok=True)
    tif = folder / f"{name}.tif"
    with rasterio.open(tif, "w", driver="GTiff", width=size, height=size, count=3, dtype="uint8", crs=CRS,
                       transform=transform) as dst:
        dst.write(np.clip(img, 0, 255).astype(np.uint8))
    labels = folder / f"{name}.geojson"
    gpd.GeoDataFrame(geometry=boxes, crs=CRS).to_crs("EPSG:4326").to_file(labels)
    return tif, labels


class PixelNet(torch.nn.Module):
    """A per-pixel model (1×1 convolution): sliding windows must reproduce its direct output exactly."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 1, 1)
        with torch.no_grad():
            self.conv.weight[:] = torch.tensor([1.0, -2.0, 0.5]).view(1, 3, 1, 1)
            self.conv.bias[:] = 0.1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


def test_segmentation_scores_have_the_seed_columns() -> None:
    ref = np.zeros((10, 10), np.uint8)
    ref[:5] = 1  # 50 building pixels
    pred = np.zeros_like(ref)
    pred[:4] = 1  # 40 tp, 10 fn
    pred[9, :5] = 1  # 5 fp
    s = segmentation_scores(pred, ref)
    assert s["accuracy"] == pytest.approx(85 / 100)
    assert s["iou"] == pytest.approx(40 / 55)
    assert s["background_iou"] == pytest.approx(45 / 60)
    assert s["miou"] == pytest.approx((40 / 55 + 45 / 60) / 2)
    assert s["precision"] == pytest.approx(40 / 45) and s["recall"] == pytest.approx(40 / 50)


def test_blended_windows_reproduce_a_pixelwise_model_exactly() -> None:
    model = UnetModel(UnetSpec(), PixelNet().eval())
    x = np.random.default_rng(0).random((3, 300, 250)).astype(np.float32)
    direct = torch.sigmoid(model.module(torch.from_numpy(x)[None]))[0, 0].detach().numpy()
    tiled = predict_proba(model, x, window=96, overlap=24)
    assert tiled.shape == (300, 250)
    np.testing.assert_allclose(tiled, direct, atol=1e-6)


def test_prediction_works_at_the_working_resolution(tmp_path: Path) -> None:
    """A model told to predict at 0.3 m sees a 0.15 m input halved: a one-pixel checkerboard averages out."""
    x = np.zeros((3, 128, 128), np.float32)
    x[:, ::2, ::2] = x[:, 1::2, 1::2] = 1.0  # fine texture, gone at half the resolution
    learnt = UnetModel(UnetSpec(gsd_m=0.15), PixelNet().eval())
    coarse = UnetModel(UnetSpec(gsd_m=0.15, predict_gsd_m=0.3), PixelNet().eval())
    assert coarse.spec.working_gsd_m == 0.3 and learnt.spec.working_gsd_m == 0.15
    fine, seen_coarse = predict_proba(learnt, x, gsd_m=0.15), predict_proba(coarse, x, gsd_m=0.15)
    assert fine.shape == seen_coarse.shape == (128, 128)
    assert fine.std() > 0.05 and seen_coarse.std() < 0.25 * fine.std()
    # kept in the model file
    from ai4geo_lab.segmentation.unet import build_unet

    path = UnetModel(coarse.spec, build_unet(coarse.spec).eval()).save(tmp_path / "m.pt")
    assert load_unet(path).spec.predict_gsd_m == 0.3


def test_eight_views_make_predictions_turn_and_mirror_with_the_input() -> None:
    from ai4geo_lab.segmentation.unet import build_unet

    torch.manual_seed(0)
    model = UnetModel(UnetSpec(), build_unet(UnetSpec()).eval())
    x = np.random.default_rng(1).random((3, 64, 96)).astype(np.float32)
    turned = np.ascontiguousarray(np.rot90(x, 1, axes=(1, 2)))
    mirrored = np.ascontiguousarray(x[:, :, ::-1])
    one, eight = predict_proba(model, x), predict_proba(model, x, views=8)
    assert one.shape == eight.shape == (64, 96)
    np.testing.assert_allclose(predict_proba(model, turned, views=8), np.rot90(eight, 1), atol=1e-5)
    np.testing.assert_allclose(predict_proba(model, mirrored, views=8), eight[:, ::-1], atol=1e-5)
    assert np.abs(predict_proba(model, turned) - np.rot90(one, 1)).max() > 1e-3  # one view is not symmetric
    four = predict_proba(model, x, views=4)
    np.testing.assert_allclose(predict_proba(model, mirrored, views=4), four[:, ::-1], atol=1e-5)
    with pytest.raises(InvalidInputError, match="views must be 1, 2, 4 or 8"):
        predict_proba(model, x, views=3)


def test_ramp_weights_fall_to_the_edges_and_stay_positive() -> None:
    w = ramp_weights((64, 48), 8)
    assert w.shape == (64, 48) and w.min() > 0 and w[32, 24] == 1.0
    assert w[0, 24] < w[4, 24] < w[8, 24] == 1.0


def test_scale_inputs_marks_invalid_pixels_and_appends_the_ndsm() -> None:
    img = np.full((3, 4, 4), 50.0, np.float32)
    img[1, 0, 0] = np.nan
    ndsm = np.full((4, 4), 10.0, np.float32)
    x, valid = scale_inputs(img, np.array([[0, 100]] * 3, np.float32), ndsm, ndsm_scale_m=20)
    assert x.shape == (4, 4, 4) and not valid[0, 0] and valid.sum() == 15
    assert x[0, 1, 1] == pytest.approx(0.5) and x[3, 1, 1] == pytest.approx(0.5) and (x[:, 0, 0] == 0).all()
    with pytest.raises(InvalidInputError, match="band limits"):
        scale_inputs(img[:2], np.array([[0, 1]] * 3, np.float32))


def test_labels_are_rasterised_on_the_fly_from_another_crs(tmp_path: Path) -> None:
    tif, _ = write_scene(tmp_path / "a", "s0", seed=0)
    chips = read_chips([tif], tmp_path / "a", source="t", chip_size=64)
    assert len(chips) == 4 and all(c.image.shape == (3, 64, 64) for c in chips)
    mask = np.zeros((128, 128), np.uint8)
    for c in chips:
        r, col = map(int, c.name.split("@")[1].split(","))
        mask[r:r + 64, col:col + 64] = c.mask
    with rasterio.open(tif) as src:
        bright = src.read(1) > 130  # the painted rectangles
    assert segmentation_scores(mask, bright)["iou"] > 0.97  # reprojection rounding only
    with pytest.raises(InvalidInputError, match="no labels"):
        read_chips([tif], tmp_path, source="t")  # a folder without s0.geojson
    with pytest.raises(InputNotFoundError):
        read_chips([tif], tmp_path / "nowhere", source="t")


def test_augment_keeps_the_mask_binary_and_aligned() -> None:
    rng = np.random.default_rng(1)
    x = np.zeros((3, 64, 64), np.float32)
    m = np.zeros((64, 64), np.uint8)
    x[:, 10:30, 20:40] = 1.0
    m[10:30, 20:40] = 1
    for _ in range(10):
        xa, ma = augment(x, m, rng, crop=64, photometric=False)
        assert xa.shape == (3, 64, 64) and ma.shape == (64, 64)
        assert set(np.unique(ma)) <= {0.0, 1.0}
        assert segmentation_scores(xa[0] > 0.5, ma)["iou"] > 0.9  # image and mask moved together


def test_touching_xyz_tiles_are_joined_and_gaps_left_unlabelled() -> None:
    rng = np.random.default_rng(0)

    def tile(x: int, y: int, z: int = 21) -> Chip:
        return Chip(rng.random((3, 8, 8)).astype(np.float32), (rng.random((8, 8)) > 0.5).astype(np.uint8),
                    f"z{z}", "oam", f"OAM-{x}-{y}-{z}@0,0", 0.075)

    # an L of three tiles, a lone tile two columns away, a tile of another zoom and a chip cut from a large image
    tiles = [tile(10, 20), tile(11, 20), tile(10, 21), tile(13, 20), tile(5, 10, z=20)]
    other = Chip(np.zeros((3, 8, 8), np.float32), np.zeros((8, 8), np.uint8), "all", "oam", "big@0,8")
    out = xyz_mosaics([*tiles, other])
    assert len(out) == 4 and other in out
    block = next(c for c in out if c.image.shape[1:] == (16, 16))
    np.testing.assert_array_equal(block.image[:, :8, 8:], tiles[1].image)  # east neighbour to the right
    np.testing.assert_array_equal(block.image[:, 8:, :8], tiles[2].image)  # south neighbour below
    np.testing.assert_array_equal(block.mask[:8, :8], tiles[0].mask)
    assert (block.mask[8:, 8:] == IGNORE).all() and np.isnan(block.image[:, 8:, 8:]).all()
    assert sorted(c.image.shape[1] for c in out) == [8, 8, 8, 16]


def test_training_chips_can_be_seen_at_the_models_resolution() -> None:
    from ai4geo_lab.segmentation.training import model_resolution

    fine = Chip(np.ones((3, 64, 64), np.float32), np.full((64, 64), IGNORE, np.uint8), "z21", "oam", "f", 0.075)
    fine.mask[:32] = 1
    coarse = Chip(np.ones((3, 64, 64), np.float32), np.zeros((64, 64), np.uint8), "z19", "oam", "c", 0.3)
    xs, masks = model_resolution([fine, coarse], [fine.image, coarse.image], 0.15)
    assert xs[0].shape == (3, 32, 32) and masks[0].shape == (32, 32) and xs[1].shape == (3, 64, 64)
    assert set(np.unique(masks[0])) == {1, IGNORE} and (masks[0][:16] == 1).all()  # labels stay labels
    assert model_resolution([fine], [fine.image], None)[0][0].shape == (3, 64, 64)


def test_unlabelled_pixels_do_not_count_in_the_loss() -> None:
    from ai4geo_lab.segmentation.training import _loss

    torch.manual_seed(0)
    logits = torch.randn(2, 1, 32, 32)
    target = (torch.rand(2, 32, 32) > 0.6).float()
    padded_logits = torch.cat([logits, torch.randn(2, 1, 32, 32) * 5], dim=3)  # wider, the extra part unlabelled
    padded_target = torch.cat([target, torch.full((2, 32, 32), float(IGNORE))], dim=2)
    # the 5×5 boundary window sees across the seam: compare without the boundary weight
    for region in ("dice", "lovasz"):
        assert float(_loss(padded_logits, padded_target, 0.0, 1.0, region)) == pytest.approx(
            float(_loss(logits, target, 0.0, 1.0, region)), rel=1e-5)
        assert float(_loss(padded_logits, padded_target, 2.0, 1.0, region)) < 10  # finite, IGNORE is no class
    # the Lovász hinge vanishes only when every labelled pixel is on its side with a margin
    sure = torch.where(target[:, None] > 0, 3.0, -3.0)
    assert float(_loss(sure, target, 0.0, 1.0, "lovasz")) < float(_loss(sure, target, 0.0, 0.0)) + 1e-6
    assert float(_loss(-sure, target, 0.0, 1.0, "lovasz")) > float(_loss(-sure, target, 0.0, 0.0)) + 1.0


def test_building_pixels_weigh_pos_weight_times_in_the_bce() -> None:
    from ai4geo_lab.segmentation.training import _loss

    target = torch.zeros(1, 16, 16)
    target[0, 4:12, 4:12] = 1
    target[0, 0, :] = IGNORE
    grads = {}
    for w in (1.0, 3.0):
        logits = torch.zeros(1, 1, 16, 16, requires_grad=True)
        _loss(logits, target, 0.0, 0.0, pos_weight=w).backward()
        grads[w] = logits.grad[0, 0]
    inside, outside = (slice(4, 12), slice(4, 12)), (slice(13, 16), slice(0, 16))
    assert torch.allclose(grads[3.0][inside], 3 * grads[1.0][inside])
    assert torch.allclose(grads[3.0][outside], grads[1.0][outside]) and bool((grads[1.0][outside] > 0).all())
    assert bool((grads[3.0][0] == 0).all())  # unlabelled: no gradient


@pytest.mark.slow
def test_training_learns_is_reproducible_and_checkpoints(tmp_path: Path) -> None:
    chips = []
    for s in range(4):
        tif, _ = write_scene(tmp_path / "train", f"s{s}", seed=s)
        chips += read_chips([tif], tmp_path / "train", source="synthetic", chip_size=128)
    val_tif, _ = write_scene(tmp_path / "val", "v", seed=9)
    val = read_chips([val_tif], tmp_path / "val", source="synthetic", chip_size=128)
    spec = UnetSpec(encoder="resnet18", decoder_channels=(32, 16, 16, 8, 8))
    params = TrainParams(epochs=10, samples_per_epoch=16, batch_size=4, crop=64, lr=5e-3, last_k=2)
    res = train(chips, val, spec, params, out_dir=tmp_path / "ck", progress=False)
    assert len(res.history) == 10 and res.checkpoint is not None and res.checkpoint.is_file()
    assert res.history[-1]["loss"] < res.history[0]["loss"]
    assert res.summary["val_iou_last2_mean"] > 0.6  # bright boxes on dark ground are learnable in seconds
    short = params.model_copy(update={"epochs": 1, "samples_per_epoch": 8})
    first, again = (train(chips, val[:1], spec, short, progress=False) for _ in range(2))
    assert [r["loss"] for r in again.history] == pytest.approx([r["loss"] for r in first.history], rel=1e-5)
    loaded = load_unet(res.checkpoint)
    assert loaded.spec == spec and len(loaded.meta["history"]) == 10
    native = bf16_native(torch.device("cpu"))
    assert loaded.meta["precision"] == ("bf16" if native else "fp32")  # auto: bf16 where the CPU has it
    fp32 = train(chips, val[:1], spec, short.model_copy(update={"precision": "fp32"}), progress=False)
    assert fp32.model.meta["precision"] == "fp32"
    if native:  # the same run in float32 computes other (close) losses
        assert fp32.history[0]["loss"] != first.history[0]["loss"]
        assert fp32.history[0]["loss"] == pytest.approx(first.history[0]["loss"], rel=0.05)
    with pytest.raises(ConfigError, match="bands"):
        train(chips, val, UnetSpec(inputs=("pan",)), params, progress=False)


def test_model_files_are_checked(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pt"
    torch.save({"format": "something-else"}, bad)
    with pytest.raises(InvalidInputError, match="not an ai4geo U-Net"):
        load_unet(bad)
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(InvalidInputError, match="readable"):
        load_unet(tmp_path / "junk.pt")
    with pytest.raises(InputNotFoundError):
        load_unet(tmp_path / "missing.pt")


def test_shipped_model_is_small_and_documented() -> None:
    assert DEFAULT_MODEL.is_file() and DEFAULT_MODEL.stat().st_size <= 20 * 2**20
    model = load_unet()
    assert model.spec.inputs == ("red", "green", "blue")
    card = (DEFAULT_MODEL.parent / "MODEL_CARD.md").read_text()
    scores = model.meta["scores"]
    assert f"{scores['kampala_val']['iou']:.3f}" in card  # the card reports the model's own figures
    assert "ai4geo segment train-default" in card and "ODbL" in card
    from ai4geo_lab.segmentation.default_model import default_recipe

    spec, params = default_recipe()  # the shipped model is what the recipe makes
    recipe = params.model_dump(mode="json")
    newer = {k: v for k, v in recipe.items() if k not in model.meta["train"]}  # fields added since, at their
    assert all(v in (None, {}, False) for v in newer.values())  # defaults, which change nothing
    # the working resolution is chosen after training, on validation data, among those the recipe tries
    from ai4geo_lab.segmentation.default_model import WORKING_GSD_STEPS

    tried = model.meta["working_gsd_iou"]
    assert model.spec.predict_gsd_m == float(max(tried, key=lambda g: (tried[g], -float(g))))
    assert sorted(map(float, tried)) == [round(spec.gsd_m * k, 3) for k in WORKING_GSD_STEPS]
    assert f"inputs finer than {model.spec.predict_gsd_m} m/px are resampled" in card
    assert model.spec.model_copy(update={"predict_gsd_m": None}) == spec
    assert model.meta["train"] == {k: v for k, v in recipe.items() if k not in newer}
    int8 = model.int8_file  # shipped with its int8 companion, scored like the model
    assert int8 is not None and DEFAULT_MODEL.stat().st_size + int8.stat().st_size <= 20 * 2**20
    assert abs(model.meta["int8_scores"]["kampala_val"]["iou"] - scores["kampala_val"]["iou"]) < 0.01


def test_int8_companion_is_used_by_auto_and_agrees_with_float32(tmp_path: Path) -> None:
    from ai4geo_lab.segmentation.chips import scaled, source_limits
    from ai4geo_lab.segmentation.quantization import calibration_windows, quantize

    shutil.copy(DEFAULT_MODEL, tmp_path / "m.pt")
    model = load_unet(tmp_path / "m.pt")
    x = np.random.default_rng(1).random((3, 96, 96), dtype=np.float32)
    with pytest.raises(InputNotFoundError, match="int8"):
        predict_proba(model, x, backend="int8")
    chips = []
    for s in range(3):
        tif, _ = write_scene(tmp_path / "cal", f"c{s}", seed=s, size=96)
        chips += read_chips([tif], tmp_path / "cal", source="synthetic", chip_size=96)
    limits = source_limits(chips)
    out = quantize(model, calibration_windows(chips, limits, side=64))
    assert out == tmp_path / "m.int8.onnx" and model.int8_file == out
    assert out.stat().st_size < 0.6 * (tmp_path / "m.pt").stat().st_size  # int8 weights: half of float16
    val = scaled(chips[0], limits)
    fp32 = predict_proba(model, val, backend="onnx")
    int8 = predict_proba(model, val, backend="int8")
    np.testing.assert_array_equal(predict_proba(model, val, backend="auto"), int8)  # auto takes the int8 file
    assert np.abs(int8 - fp32).mean() < 0.03 and ((int8 >= 0.5) == (fp32 >= 0.5)).mean() > 0.97


@pytest.mark.slow
def test_tiled_predict_has_no_seams_and_resumes(tmp_path: Path, dask_client) -> None:
    tif, _ = write_scene(tmp_path / "img", "big", seed=5, size=320)
    whole = predict(tif, out=tmp_path / "whole", tile=1000, progress=False)
    tiled = predict(tif, out=tmp_path / "tiled", tile=128, overlap=64, client=dask_client, progress=False)
    with rasterio.open(whole["probability"]) as a, rasterio.open(tiled["probability"]) as b:
        pa, pb = a.read(1), b.read(1)
        assert b.crs == a.crs and b.transform == a.transform
        assert b.compression == Compression.zstd and b.dtypes == ("float32",)  # lossless, fast to write
    diff = np.abs(pa - pb)  # the network sees less context near a tile's halo edge: small differences only
    assert diff.mean() < 0.01 and np.percentile(diff, 99) < 0.1
    with rasterio.open(whole["mask"]) as a, rasterio.open(tiled["mask"]) as b:
        assert (a.read(1) == b.read(1)).mean() > 0.999
        assert b.compression == Compression.deflate  # the default of the other products
    run = json.loads((tmp_path / "tiled" / "run.json").read_text())
    assert len(run["steps"]["segment/probability"]["tiles"]) == 9  # 3 × 3 tiles of 128 px
    tiles = tmp_path / "tiled" / "segment" / "tiles" / "probability"
    (tiles / "r000_c000.tif").unlink()
    kept = (tiles / "r001_c001.tif").stat().st_mtime_ns
    again = predict(tif, out=tmp_path / "tiled", tile=128, overlap=64, progress=False)
    assert (tiles / "r000_c000.tif").is_file() and (tiles / "r001_c001.tif").stat().st_mtime_ns == kept
    with rasterio.open(again["probability"]) as c:
        np.testing.assert_allclose(c.read(1), pb, atol=1e-6)  # the resumed run computed only the lost tile


def test_predict_refuses_bands_that_do_not_fit(tmp_path: Path) -> None:
    tif, _ = write_scene(tmp_path, "s", seed=2, size=64)
    with pytest.raises(ConfigError, match="bands"):
        predict(tif, out=tmp_path / "o", bands=[1, 2], progress=False)
    with pytest.raises(ConfigError, match="bands"):
        predict(tif, out=tmp_path / "o", bands=[1, 2, 7], progress=False)
    with pytest.raises(ConfigError, match="views"):
        predict(tif, out=tmp_path / "o", views=3, progress=False)


def test_cli_predicts_and_reports_errors_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from ai4geo_lab.cli import main

    tif, _ = write_scene(tmp_path, "s", seed=3, size=64)
    assert main(["segment", "predict", "--image", str(tif), "--out", str(tmp_path / "o"), "--tile-size", "64"]) == 0
    out = json.loads(capsys.readouterr().out)
    with rasterio.open(out["mask"]) as src:
        assert src.shape == (64, 64)
    assert main(["segment", "predict", "--image", str(tmp_path / "nope.tif"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ai4geo: error:") and "does not exist" in err and "Traceback" not in err
    assert main(["segment", "predict", "--image", str(tif), "--out", str(tmp_path / "o"), "--model", str(tif)]) == 2
    assert "not a readable model" in capsys.readouterr().err
    assert main(["segment", "predict", "--image", str(tif), "--out", str(tmp_path / "v"), "--tile-size", "64",
                 "--views", "8"]) == 0
    with rasterio.open(json.loads(capsys.readouterr().out)["probability"]) as src:
        viewed = src.read(1)
    with rasterio.open(out["probability"]) as src:
        single = src.read(1)
    assert viewed.shape == single.shape and not np.allclose(viewed, single)
