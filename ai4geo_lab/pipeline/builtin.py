"""The built-in steps of the 3D chain: one line each."""

from __future__ import annotations

from ai4geo_lab.buildings import step as lod1
from ai4geo_lab.buildings import step as lod2
from ai4geo_lab.change import step as change
from ai4geo_lab.landcover import step as landcover
from ai4geo_lab.pipeline.spec import StepSpec
from ai4geo_lab.segmentation import prediction as segment
from ai4geo_lab.segmentation import step as building_mask
from ai4geo_lab.stereo import step as dsm
from ai4geo_lab.terrain import step as terrain
from ai4geo_lab.vectorize import step as footprints

BUILTIN_STEPS = [
    StepSpec("dsm", dsm.DsmParams, ("left", "right"), ("dsm",), dsm.run,
             "DSM from a stereo pair or tri-stereo set with RPC models, and the left image projected on it (ortho; "
             "engine: native semi-global matching, with its confidence and filled mask; or CARS)",
             optional_inputs=("third",), engine_outputs={"native": ("ortho", "confidence", "filled"),
                                                         "cars": ("ortho",)}),
    StepSpec("terrain", terrain.TerrainParams, ("dsm",), ("dtm", "ndsm"), terrain.run,
             "DTM from the DSM (engine: morphological filtering, or bulldozer) and nDSM"),
    StepSpec("building_mask", building_mask.BuildingMaskParams, ("ndsm",), ("mask",), building_mask.run,
             "building mask by thresholds on nDSM and NDVI", optional_inputs=("image",)),
    StepSpec("segment", segment.SegmentParams, ("image",), ("probability", "mask"), segment.run,
             "building probability and mask with a U-Net (the shipped model by default), gated by the nDSM "
             "when given", optional_inputs=("ndsm",)),
    StepSpec("footprints", footprints.FootprintParams, ("mask",), ("footprints",), footprints.run,
             "regularised footprint polygons from a building mask"),
    StepSpec("lod1", lod1.Lod1Params, ("footprints", "ndsm", "dtm"), ("buildings", "cityjson"), lod1.run,
             "LOD1 buildings (heights, CityJSON) from footprints and nDSM"),
    StepSpec("landcover", landcover.LandcoverParams, ("image", "ndsm"), ("landcover",), landcover.run,
             "rule-based land cover from a 4-band image and the nDSM"),
    StepSpec("change", change.ChangeParams, ("dsm_before", "dsm_after", "ndsm_before", "ndsm_after"), ("change",),
             change.run, "3D change between two dates from DSM differences",
             optional_inputs=("image_before", "image_after")),
    StepSpec("lod2", lod2.Lod2Params, ("footprints", "ndsm", "dtm"), ("buildings", "cityjson"), lod2.run_lod2,
             "LOD2 buildings (roof types fitted to the DSM, LOD1+LOD2 CityJSON) from footprints, nDSM and DTM"),
    StepSpec("landcover_train", landcover.LandcoverTrainParams, ("images", "reference"), ("model",),
             landcover.run_train, "a land-cover classifier (gradient boosting or random forest) trained on an image "
             "series and a reference, with spatial cross-validation", optional_inputs=("ndsm",)),
    StepSpec("landcover_classify", landcover.LandcoverClassifyParams, ("images", "model"), ("landcover",),
             landcover.run_classify, "land cover of an image series with a trained model",
             optional_inputs=("ndsm",)),
    StepSpec("change_2d", change.Change2DParams, ("image_before", "image_after"), ("change", "polygons"),
             change.run_change_2d, "2D change between two images: index difference with an automatic threshold"),
    StepSpec("breaks", change.BreaksParams, ("series",), ("breaks", "polygons"), change.run_breaks,
             "breaks along an index time series (seasonal model on a history, moving sums of residuals)"),
    StepSpec("building_change", change.BuildingChangeParams, ("dsm_before", "dsm_after"), ("buildings",),
             change.run_building_change, "per-building height change between two DSMs: demolished, new, raised, "
             "lowered, with volumes",
             optional_inputs=("footprints", "footprints_after", "ndsm_before", "ndsm_after", "image_after")),
]
