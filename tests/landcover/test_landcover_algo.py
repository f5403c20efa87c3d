import numpy as np

from ai4geo_lab.landcover.algo import majority_filter, ndvi, rule_based_landcover
from ai4geo_lab.landcover.classes import LANDCOVER_CLASSES

CODE = {name: code for code, (name, _) in LANDCOVER_CLASSES.items()}
SPECTRA = {  # R, G, B, NIR reflectance and height above ground
    "grass": ((0.06, 0.10, 0.05, 0.40), 0.0),
    "tree": ((0.04, 0.07, 0.03, 0.45), 8.0),
    "road": ((0.15, 0.15, 0.16, 0.18), 0.0),
    "bare soil": ((0.24, 0.18, 0.12, 0.30), 0.0),
    "water": ((0.03, 0.05, 0.08, 0.02), 0.0),
    "building": ((0.36, 0.17, 0.11, 0.32), 12.0),
}


def test_each_class_is_recovered():
    rng = np.random.default_rng(0)
    image = np.zeros((4, 60, 60), np.float32)
    height = np.zeros((60, 60), np.float32)
    truth = np.zeros((60, 60), np.uint8)
    for k, (name, (spectrum, h)) in enumerate(SPECTRA.items()):
        rows = slice(k * 10, k * 10 + 10)
        image[:, rows] = np.asarray(spectrum)[:, None, None] * rng.uniform(0.8, 1.2, (1, 10, 60))
        height[rows] = h
        truth[rows] = CODE[name]
    out = rule_based_landcover(image, height)
    assert (out == truth).mean() > 0.97
    for name in SPECTRA:
        assert (out[truth == CODE[name]] == CODE[name]).mean() > 0.9, name


def test_nan_is_nodata():
    image = np.full((4, 5, 5), 0.1, np.float32)
    image[:, 2, 2] = np.nan
    out = rule_based_landcover(image, np.zeros((5, 5)), majority=0)
    assert out[2, 2] == 0 and (out[out != 0] > 0).all()


def test_ndvi_and_majority():
    assert np.isclose(ndvi(np.array([0.1]), np.array([0.3]))[0], 0.5)
    assert np.isnan(ndvi(np.array([0.0]), np.array([0.0]))[0])
    a = np.full((7, 7), 4, np.uint8)
    a[3, 3] = 2  # a lone pixel is absorbed by its neighbourhood
    assert (majority_filter(a, 3) == 4).all()
