"""Terrain: DTM extraction from a DSM, and normalised DSM (height above ground).

``dtm(dsm, max_object_size=…)`` runs bulldozer (the ``cars`` extra) on a DSM file and ``ndsm(dsm, dtm)`` gives the
height above ground; the chain's ``terrain`` step is the built-in morphological DTM.
"""

from ai4geo_lab.terrain.products import CITY_MAX_OBJECT_SIZE_M, dtm, ndsm

__all__ = ["CITY_MAX_OBJECT_SIZE_M", "dtm", "ndsm"]
