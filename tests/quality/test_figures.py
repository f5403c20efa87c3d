import numpy as np

from ai4geo_lab.geo.relief import hillshade
from ai4geo_lab.quality.report import _subsample, relief_figure


def test_large_rasters_are_aggregated_not_decimated():
    a = np.zeros((3000, 2000), np.float32)
    a[::3] = 3.0  # one row in three: decimation by 3 would keep only these
    small = _subsample(a)
    assert max(small.shape) == 1000 and small.shape[1] == 667
    assert np.allclose(small[10:-10, 10:-10], 1.0, atol=1e-5)  # the mean of each 3 × 3 block
    classes = np.where(np.arange(3000)[:, None] < 1500, 3, 4) * np.ones((1, 2000), np.uint8)
    c = _subsample(classes, categorical=True)
    assert set(np.unique(c)) == {3, 4} and (c[:400] == 3).all() and (c[-400:] == 4).all()


def test_hillshade_faces_the_sun():
    y, x = np.mgrid[0:50, 0:50] * 1.0
    east_facing = 100 - x  # slopes down to the east
    lit_from_east = hillshade(east_facing, 1.0, azimuth_deg=90, altitude_deg=30)
    lit_from_west = hillshade(east_facing, 1.0, azimuth_deg=270, altitude_deg=30)
    assert lit_from_east[25, 25] > lit_from_west[25, 25]
    assert np.allclose(hillshade(np.zeros((5, 5)), 1.0, altitude_deg=30), 0.5)  # flat: sin(altitude)
    fig = relief_figure(100 - x + y, 1.0, "relief")
    assert fig.axes and fig.axes[0].get_title() == "relief"


def test_metric_names_and_units():
    from ai4geo_lab.quality.report import split_metric_name

    assert split_metric_name("dsm.nmad_m") == ("dsm", "nmad", "m")
    assert split_metric_name("wall_time_s.step.dsm_1") == ("wall_time", "step.dsm_1", "s")
    assert split_metric_name("footprints.n_pred") == ("footprints", "n_pred", "")
