"""The demo's evaluation: every product of the sample-city run against the city's ground truth."""

from __future__ import annotations

from typing import Any

from ai4geo_lab.quality.run_report import Reference, RunReport, build_run_report

METHODS = (
    "DSM: semi-global matching of the rectified Pléiades-like pair. DTM: morphological opening on a robust coarse "
    "grid. Buildings: threshold on nDSM and NDVI, regularised polygons, LOD1 at the 90th percentile of nDSM, "
    "LOD2 roofs (flat, shed, gable, hip) fitted to the DSM. "
    "Land cover: rules on NDVI, brightness and height. Change: DSM difference between the two dates."
)


def demo_references(city: Any) -> list[Reference]:
    """Which truth file qualifies which product of the demo run, and the names of their metrics."""
    lc1, lc2 = city.truth("date1", "landcover"), city.truth("date2", "landcover")
    return [
        Reference("dsm_1.dsm", city.truth("date1", "dsm"), "dsm_date1", lc1),
        Reference("terrain_1.dtm", city.truth("date1", "dtm"), "dtm_date1", lc1),
        Reference("dsm_2.dsm", city.truth("date2", "dsm"), "dsm_date2", lc2),
        Reference("terrain_2.dtm", city.truth("date2", "dtm"), "dtm_date2", lc2),
        Reference("mask_1.mask", lc1, "building_mask"),
        Reference("footprints_1.footprints", city.truth("date1", "buildings"), "footprints"),
        Reference("lod1_1.buildings", city.truth("date1", "buildings"), "lod1"),
        Reference("lod2_1.buildings", city.truth("date1", "buildings"), "lod2"),
        Reference("landcover_1.landcover", lc1, "landcover"),
        Reference("change_12.change", city.change_raster, "change"),
    ]


def evaluate_run(city: Any, result: Any) -> RunReport:
    """Assess the demo run against the truth, stamp the products' STAC items, and build the report."""
    report = build_run_report(result.root, demo_references(city), title="ai4geo_lab demo: the sample city")
    report.notes[:0] = [
        f"Sample city: seed {city.seed}, {city.size_m:g} m × {city.size_m:g} m at {city.gsd:g} m/px, synthetic, "
        "with exact ground truth.",
        METHODS,
    ]
    return report
