"""The generalising augmentations, training from weighted dataset lists, and the model choice for one-band images."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("segmentation_models_pytorch")

from ai4geo_lab.errors import ConfigError
from ai4geo_lab.metrics import segmentation_scores
from ai4geo_lab.segmentation.chips import (
    IGNORE,
    WIDE_AUGMENT,
    AugmentParams,
    Chip,
    augment,
    photometric_view,
    to_bands,
)


def _blobs(side: int = 96, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A chip whose building mask is exactly ``image > 0.5``: bright rectangles on a darker textured ground."""
    rng = np.random.default_rng(seed)
    img = rng.uniform(0.0, 0.3, (side, side)).astype(np.float32)
    for _ in range(6):
        r, c = rng.integers(0, side - 24, 2)
        h, w = rng.integers(10, 24, 2)
        img[r:r + h, c:c + w] = rng.uniform(0.75, 1.0)
    return np.repeat(img[None], 3, axis=0), (img > 0.5).astype(np.uint8)


def _aligned(view: np.ndarray, mask: np.ndarray, threshold: float = 0.5) -> float:
    labelled = mask != IGNORE
    return segmentation_scores(view[0][labelled] > threshold, mask[labelled] == 1)["iou"]


def test_resolution_randomisation_keeps_labels_on_their_pixels() -> None:
    x, m = _blobs()
    rng = np.random.default_rng(3)
    aug = AugmentParams(gsd_range=(0.1, 0.6))
    sizes = []
    for _ in range(12):
        xa, ma = augment(x, m, rng, crop=64, aug=aug, gsd_m=0.15)
        assert xa.shape == (3, 64, 64) and ma.shape == (64, 64)
        assert set(np.unique(ma)) <= {0.0, 1.0, float(IGNORE)}
        assert _aligned(xa, ma) > 0.85  # still the threshold of the image after zoom, crop, turns and flips
        sizes.append((ma == IGNORE).mean())
    assert max(sizes) > 0  # coarse views of a small chip are padded with unlabelled pixels


def test_views_are_resampled_to_the_drawn_ground_pixel_size() -> None:
    x = np.zeros((1, 200, 200), np.float32)
    m = np.zeros((200, 200), np.uint8)
    x[:, 50:100, 50:100], m[50:100, 50:100] = 1.0, 1  # 50 px at 0.1 m: 5 m
    xa, ma = augment(x, m, np.random.default_rng(0), crop=64, aug=AugmentParams(gsd_range=(0.5, 0.5)), gsd_m=0.1)
    assert (ma == 1).sum() == pytest.approx(100, abs=25)  # 10 × 10 px at 0.5 m
    soft = ((xa > 0.05) & (xa < 0.95)).sum()
    assert 20 < soft < 200  # smoothed before it was shrunk: a soft rim around the roof, not a blurred roof


def test_appearance_changes_keep_buildings_brighter_and_labels_unchanged() -> None:
    x, m = _blobs(seed=1)
    rng = np.random.default_rng(5)
    aug = WIDE_AUGMENT.model_copy(update={"gsd_range": (0.3, 0.6), "blur": 0.0, "noise": 0.0})
    for _ in range(10):
        xa, ma = augment(x, m, rng, crop=64, aug=aug, gsd_m=0.2, n_out=1)
        assert xa.shape == (1, 64, 64)
        inside, outside = xa[0][ma == 1], xa[0][ma == 0]
        if inside.size and outside.size:
            assert inside.mean() > outside.mean() + 0.2


def test_photometric_view_changes_pixels_not_shapes() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((3, 32, 32)).astype(np.float32)
    valid = np.ones((32, 32), bool)
    valid[:4] = False
    aug = AugmentParams(hue=0.5, saturation=0.5, gamma=0.5, contrast=0.3, brightness=0.1, grey=1.0, blur=1.0,
                        noise=1.0)
    out = photometric_view(x, rng, aug, 3, valid)
    assert out.shape == (3, 32, 32) and np.isfinite(out).all()
    np.testing.assert_allclose(out[0], out[1])  # greyscale: one band repeated
    assert (out[:, :4] == 0).all()  # invalid pixels stay 0
    hue_only = photometric_view(x, rng, AugmentParams(hue=0.5), 3)
    np.testing.assert_allclose(hue_only.mean(axis=0), x.mean(axis=0), atol=1e-5)  # hue keeps the grey level


def test_bands_become_grey_or_repeat() -> None:
    x = np.stack([np.full((4, 4), v, np.float32) for v in (0.0, 0.5, 1.0)])
    np.testing.assert_allclose(to_bands(x, 1), 0.5)
    np.testing.assert_allclose(to_bands(x, 1, np.array([1.0, 0.0, 0.0])), 0.0)
    assert to_bands(x[:1], 3).shape == (3, 4, 4)
    with pytest.raises(Exception, match="cannot turn"):
        to_bands(np.zeros((4, 2, 2), np.float32), 3)


def test_datasets_with_weights_set_source_shares() -> None:
    from ai4geo_lab.segmentation.datasets import parse_weighted
    from ai4geo_lab.segmentation.training import _group_weights

    assert parse_weighted("banepa:2.5") == ("banepa", 2.5)
    assert parse_weighted("kampala-train") == ("kampala-train", 1.0)
    assert parse_weighted("/data/set:v2/catalog.json") == ("/data/set:v2/catalog.json", 1.0)
    with pytest.raises(ConfigError):
        parse_weighted("banepa:-1")
    m = np.zeros((8, 8), np.uint8)
    chips = [Chip(np.zeros((3, 8, 8), np.float32), m, g, s, f"{s}{g}") for s, g in
             (("a", "z19"), ("a", "z20"), ("a", "z21"), ("b", "all"))]
    w = _group_weights(chips, source_shares={"a": 1.0, "b": 1.0})
    np.testing.assert_allclose(w, [1 / 6, 1 / 6, 1 / 6, 1 / 2])  # a dataset's weight, not its group count
    np.testing.assert_allclose(_group_weights(chips), 0.25)  # the shipped recipe's sampling is unchanged


def test_a_panchromatic_model_trains_on_colour_chips(tmp_path: object) -> None:
    import torch

    from ai4geo_lab.segmentation.training import TrainParams, train
    from ai4geo_lab.segmentation.unet import UnetSpec

    torch.set_num_threads(1)
    chips = []
    for seed in range(2):
        x, m = _blobs(64, seed)
        chips.append(Chip(x * 200, m, "all", "rgb", f"c{seed}", 0.15))
    val = [Chip(x[:1] * 100, m, "all", "pan", "v", 0.5)]
    params = TrainParams(epochs=1, samples_per_epoch=4, batch_size=2, crop=32, bn_batches=1,
                         augment=WIDE_AUGMENT.model_copy(update={"gsd_range": (0.3, 0.6)}))
    spec = UnetSpec(inputs=("pan",), decoder_channels=(16, 8, 8, 8, 8), gsd_m=0.3)
    res = train(chips, val, spec, params, progress=False)
    assert res.model.spec.inputs == ("pan",) and "val_iou" in res.history[0]
    with pytest.raises(ConfigError, match="bands"):
        train(chips, [], spec, TrainParams(epochs=1, samples_per_epoch=2, batch_size=2, crop=32), progress=False)


def test_default_on_a_one_band_image_is_the_satellite_model(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    import rasterio
    from rasterio.transform import from_origin

    from ai4geo_lab.segmentation import prediction
    from ai4geo_lab.segmentation.unet import DEFAULT_MODEL

    pan_model = Path(str(tmp_path)) / "buildings_pan.pt"
    pan_model.write_bytes(b"")
    monkeypatch.setattr(prediction, "PAN_MODEL", pan_model)
    paths = {}
    for n in (1, 3):
        paths[n] = Path(str(tmp_path)) / f"b{n}.tif"
        with rasterio.open(paths[n], "w", driver="GTiff", width=8, height=8, count=n, dtype="uint8",
                           crs="EPSG:32631", transform=from_origin(0, 8, 0.5, 0.5)) as dst:
            dst.write(np.zeros((n, 8, 8), np.uint8))
    assert prediction.model_for_image("default", paths[1]) == pan_model
    assert prediction.model_for_image("default", paths[3]) == DEFAULT_MODEL  # RGB inputs: unchanged
    assert prediction.model_for_image("default", paths[3], bands=[2]) == pan_model
    assert prediction.model_for_image("buildings_rgb", paths[1]) == DEFAULT_MODEL  # a named model is kept


def test_a_colour_chip_is_scored_grey_by_a_one_band_model() -> None:
    from ai4geo_lab.segmentation.evaluation import fit_bands

    x, m = _blobs(32)
    chip = Chip(x * np.array([1.0, 2.0, 3.0], np.float32)[:, None, None], m, "all", "rgb", "c")
    np.testing.assert_allclose(fit_bands(chip, 1).image[0], 2 * x[0], rtol=1e-5)


def test_grey_views_brighten_vegetation_as_a_panchromatic_band_does() -> None:
    from ai4geo_lab.segmentation.chips import near_infrared

    rgb = np.full((3, 16, 16), 0.3, np.float32)
    rgb[:, :, 8:] = np.array([0.2, 0.5, 0.2], np.float32)[:, None, None]  # green canopy on the right
    nir = near_infrared(rgb, np.random.default_rng(0))
    assert nir[:, 12:].min() > 0.6 and nir[:, :4].max() < 0.35  # canopy bright, grey ground as its red


def test_tree_crowns_are_drawn_over_the_ground_only() -> None:
    x = np.full((1, 96, 96), 0.5, np.float32)
    ground = np.zeros((96, 96), bool)
    ground[:, :48] = True  # the right half is a labelled roof
    rng = np.random.default_rng(2)
    out = photometric_view(x, rng, AugmentParams(trees=1.0), 1, ground=ground, gsd_m=0.5)
    assert (out[0][:, 48:] == 0.5).all()  # neither crowns nor their shadows over the building
    assert (out[0][:, :48] != 0.5).mean() > 0.1


def test_roofs_are_recoloured_one_by_one_and_the_ground_is_left_alone() -> None:
    from ai4geo_lab.segmentation.chips import recolour_roofs

    x = np.full((1, 40, 40), 0.5, np.float32)
    roofs = np.zeros((40, 40), bool)
    roofs[5:15, 5:15] = roofs[25:35, 25:35] = True
    tones = set()
    for seed in range(6):
        out = recolour_roofs(x, roofs, np.random.default_rng(seed))
        assert (out[0][:, 18:22] == 0.5).all()  # the ground between them is unchanged
        tones.add(round(float(out[0, 10, 10]), 3))
    assert len(tones) > 2  # roofs take different tones


def test_ground_texture_and_inversion_change_pixels_only() -> None:
    x = np.full((1, 32, 32), 0.25, np.float32)
    ground = np.zeros((32, 32), bool)
    ground[:16] = True
    out = photometric_view(x, np.random.default_rng(0), AugmentParams(texture=1.0), 1, ground=ground)
    assert (out[0][16:] == 0.25).all() and out[0][:16].std() > 0.01  # texture over the ground only
    np.testing.assert_allclose(photometric_view(x, np.random.default_rng(0), AugmentParams(invert=1.0), 1), 0.75)
