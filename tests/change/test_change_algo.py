import numpy as np

from ai4geo_lab.change.algo import ChangeRules, dsm_change
from ai4geo_lab.change.classes import CHANGE_CLASSES

CODE = {name: code for code, (name, _) in CHANGE_CLASSES.items()}


def scenes(noise=0.0, seed=0):
    rng = np.random.default_rng(seed)
    ground = np.full((100, 100), 50.0)
    d1, d2 = ground.copy(), ground.copy()
    v1, v2 = np.full(ground.shape, 0.1), np.full(ground.shape, 0.1)
    d1[10:30, 10:30] += 12            # demolished
    d2[10:70, 60:80] += 0
    d2[40:60, 10:30] += 9             # new
    d1[70:90, 10:30] += 10            # raised
    d2[70:90, 10:30] += 18
    d1[10:25, 60:80] += 8             # trees, cleared
    v1[10:25, 60:80] = 0.7
    d1[40:60, 60:80] += 15            # unchanged building
    d2[40:60, 60:80] += 15
    d1 += rng.normal(0, noise, d1.shape)
    d2 += rng.normal(0, noise, d2.shape)
    return d1, d2, d1 - ground, d2 - ground, v1, v2


def test_each_change_type_is_found():
    d1, d2, n1, n2, v1, v2 = scenes(noise=0.3)
    out = dsm_change(d1, d2, n1, n2, v1, v2)
    for rs, cs, name in ((np.s_[10:30], np.s_[10:30], "demolished building"),
                         (np.s_[40:60], np.s_[10:30], "new building"),
                         (np.s_[70:90], np.s_[10:30], "raised building"),
                         (np.s_[10:25], np.s_[60:80], "cleared trees")):
        assert (out[rs, cs] == CODE[name]).mean() > 0.9, name
    assert (out[40:60, 60:80] == 0).all()


def test_noise_alone_is_no_change():
    d1, _, n1, _, v1, _ = scenes()
    rng = np.random.default_rng(3)
    d2 = d1 + rng.normal(0, 0.5, d1.shape)
    assert (dsm_change(d1, d2, n1, n1 + (d2 - d1), v1, v1) == 0).all()


def test_small_blobs_removed_and_nan_ignored():
    d1, d2, n1, n2, v1, v2 = scenes()
    d2[95:97, 95:97] += 10
    n2[95:97, 95:97] += 10
    d2[0:5, 0:5] = np.nan
    out = dsm_change(d1, d2, n1, n2, v1, v2, ChangeRules(min_area_px=20))
    assert (out[95:97, 95:97] == 0).all() and (out[0:5, 0:5] == 0).all()
