"""Kahramanmaraş before and after the February 2023 earthquake: DSMs from both Pléiades pairs, buildings that
lost height.

Runs the ``dsm`` step (the native engine by default, or CARS with ``--engine cars``) on the pre-event and the
post-event pair over the same ROI and grid (centre of the pre-event overlap), the ``terrain`` step's DTMs and nDSMs
(morphology; bulldozer with CARS), aligns the post-event DSM vertically on stable ground (both nDSMs
below 1 m; the horizontal Nuth & Kääb offset is printed), then ``building_change`` with first-date buildings
from the pre-event nDSM. Prints the wall times, the alignment, counts per change class and the buildings
flagged demolished or lowered (collapsed or partly collapsed) with heights and volumes; writes them to
``WORK/buildings.gpkg`` and a map to ``WORK/collapsed.png``. Finished tiles in WORK are reused.

Usage: python benchmarks/bench_change_kahramanmaras.py [--work /tmp/kahramanmaras-change] [--roi-m 200 100]
       [--engine native|cars]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from ai4geo_lab.change.step import BuildingChangeParams, building_change
from ai4geo_lab.geo.grid import GroundGrid
from ai4geo_lab.geo.raster import open_raster, read_window, write_raster
from ai4geo_lab.geo.resample import read_on_grid
from ai4geo_lab.geo.sensor import centre_box
from ai4geo_lab.pipeline import run_step
from ai4geo_lab.quality.coregistration import nuth_kaab
from ai4geo_lab.stereo.sensor_dsm import area_grid

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "pleiades" / "kahramanmaras"


def surfaces(images: list[Path], out: Path, grid: GroundGrid, client: object, engine: str,
             ) -> tuple[Path, Path, float]:
    """DSM and nDSM of one pair on ``grid``, and the seconds they took."""
    t0 = time.perf_counter()
    made = run_step("dsm", {"left": images[0], "right": images[1]},
                    {"engine": engine} | ({"cars": {"tile_size_m": 100.0, "margin_m": 30.0}} if engine == "cars"
                                          else {}), out, client, grid=grid, tile_size=256, progress=False,
                    log=lambda _: None)
    terrain = run_step("terrain", {"dsm": made["dsm"]}, {"engine": "bulldozer" if engine == "cars" else "morphology"},
                       out, client, grid=grid, tile_size=256, progress=False, log=lambda _: None)
    return made["dsm"], terrain["ndsm"], time.perf_counter() - t0


def collapse_map(pre_ndsm: Path, post_ndsm: Path, frame: object, out: Path) -> None:
    """Both nDSMs side by side: first-date buildings that fell or rose on the left, new ones on the right."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = GroundGrid.like(pre_ndsm)
    t = grid.transform
    h, w = grid.shape
    extent = (t.c, t.c + w * t.a, t.f + h * t.e, t.f)
    fig, axes = plt.subplots(1, 2, figsize=(14, 4.2), sharey=True)
    colours = {"demolished": "red", "lowered": "orange", "raised": "cyan", "new": "white"}
    panels = ((axes[0], read_window(pre_ndsm)[0], "pre-event", ("demolished", "lowered", "raised")),
              (axes[1], read_on_grid(post_ndsm, grid), "post-event", ("new",)))
    for ax, data, title, kinds in panels:
        im = ax.imshow(data, extent=extent, cmap="viridis", vmin=0, vmax=30)
        for change in kinds:
            part = frame[frame["change"] == change]
            if len(part):
                part.boundary.plot(ax=ax, color=colours[change], linewidth=1.2, label=f"{change} ({len(part)})")
        ax.legend(loc="lower right", fontsize=8)
        ax.set_title(f"{title} nDSM (m) and changed buildings")
    fig.colorbar(im, ax=axes, label="height above ground (m)", shrink=0.9)
    fig.savefig(out, dpi=110, bbox_inches="tight")
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/kahramanmaras-change"))
    ap.add_argument("--roi-m", type=float, nargs=2, default=(200.0, 100.0), metavar=("WIDTH", "HEIGHT"))
    ap.add_argument("--engine", choices=("native", "cars"), default="native")
    args = ap.parse_args()
    from distributed import Client, LocalCluster

    pre_images = [DATA / "pre_event_img1.tif", DATA / "pre_event_img2.tif"]
    post_images = [DATA / "post_event_img1.tif", DATA / "post_event_img2.tif"]
    roi = centre_box(pre_images, *args.roi_m)
    grid = area_grid(pre_images, roi, 0.5)
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, Client(cluster) as client:
        pre_dsm, pre_ndsm, t_pre = surfaces(pre_images, args.work / "pre", grid, client, args.engine)
        post_dsm, post_ndsm, t_post = surfaces(post_images, args.work / "post", grid, client, args.engine)
    print(f"{args.engine} engine: pre-event DSM + DTM: {t_pre:.1f} s; post-event: {t_post:.1f} s (ROI "
          f"{args.roi_m[0]:g} × {args.roi_m[1]:g} m)")
    with open_raster(pre_dsm) as src:
        grid, gsd = GroundGrid.like(pre_dsm), abs(src.transform.a)
    d1, d2 = read_window(pre_dsm)[0], read_on_grid(post_dsm, grid)
    n1, n2 = read_window(pre_ndsm)[0], read_on_grid(post_ndsm, grid)
    stable = (n1 < 1.0) & (n2 < 1.0)
    off = nuth_kaab(d2, d1, gsd, stable=stable)
    dz = float(np.nanmedian((d2 - d1)[stable]))
    print(f"alignment on {int(stable.sum())} stable px: vertical {dz:+.2f} m (removed); horizontal "
          f"{off['dx_m']:+.2f} m east, {off['dy_m']:+.2f} m north (not removed)")
    aligned = write_raster(args.work / "post_aligned.tif", (d2 - dz).astype(np.float32), grid.transform, grid.crs,
                           nodata=np.nan)
    frame = building_change(pre_dsm, aligned, ndsm_before=pre_ndsm, ndsm_after=post_ndsm,
                            params=BuildingChangeParams())
    frame.to_file(args.work / "buildings.gpkg", layer="building_change", driver="GPKG")
    print("buildings per class:", frame["change"].value_counts().to_dict())
    cols = [c for c in ("change", "dh", "height_before", "height_after", "volume_before_m3", "volume_after_m3",
                        "area_m2") if c in frame.columns]
    collapsed = frame[frame["change"].isin(["demolished", "lowered"])]
    print(collapsed[cols].round(1).to_string() if len(collapsed) else "no building flagged collapsed")
    first = frame[frame["date"] == 1]
    print(f"collapsed (demolished or lowered): {len(collapsed)} of {len(first)} pre-event buildings, "
          f"{collapsed['area_m2'].sum():.0f} of {first['area_m2'].sum():.0f} m² of footprint, "
          f"{(collapsed['volume_before_m3'] - collapsed['volume_after_m3']).sum():.0f} m³ lost; "
          f"collapsed over 8 m tall before: {int((collapsed['height_before'] >= 8).sum())}")
    collapse_map(pre_ndsm, post_ndsm, frame, args.work / "collapsed.png")
    print(f"map: {args.work / 'collapsed.png'}; buildings: {args.work / 'buildings.gpkg'}")


if __name__ == "__main__":
    main()
