"""Stereo: DSMs from pairs of sensor images with RPC models.

``dsm(images, out, resolution=…, engine="cars", roi=None, client=None)`` runs CARS (the ``cars`` extra) over ROI
tiles; the chain's ``dsm`` step runs it (``engine: cars``) or the package's own engine (``engine: native``:
epipolar rectification, semi-global matching and triangulation, :mod:`ai4geo_lab.stereo.native`).
"""

from ai4geo_lab.stereo.sensor_dsm import DsmResult, choose_pairs, dsm

__all__ = ["DsmResult", "choose_pairs", "dsm"]
