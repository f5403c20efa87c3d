"""Stereo: DSMs from pairs of sensor images with RPC models.

``dsm(images, out, resolution=…, engine="cars", roi=None, client=None)`` runs CARS (the ``cars`` extra) over ROI
tiles; the chain's ``stereo`` step is the built-in plane-sweep engine.
"""

from ai4geo_lab.stereo.sensor_dsm import DsmResult, choose_pairs, dsm

__all__ = ["DsmResult", "choose_pairs", "dsm"]
