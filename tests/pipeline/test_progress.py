"""``run_step``'s progress: a callable told the tiles done and the total per tiled product."""

from __future__ import annotations

from ai4geo_lab.pipeline import run_step


def test_progress_hook_counts_every_tile_and_resumes(small_city, tmp_path):
    dsm = small_city.truth("date1", "dsm")
    seen: list[tuple[str, int, int]] = []
    out = run_step("terrain", {"dsm": dsm}, {}, tmp_path / "run", tile_size=64,
                   progress=lambda record, done, total: seen.append((record, done, total)), log=lambda _: None)
    assert set(out) == {"dtm", "ndsm"} and out["ndsm"].is_file()
    records = [r for r, _, _ in seen]
    assert records[0] == "terrain/dtm" and "terrain/ndsm" in records
    for record in ("terrain/dtm", "terrain/ndsm"):
        counts = [(d, t) for r, d, t in seen if r == record]
        total = counts[0][1]
        assert total == 16  # a 200 px raster in 64 px tiles: 4 × 4
        assert [d for d, _ in counts] == list(range(total + 1))  # told at the start, then after each tile

    # a rerun with other parameters recomputes everything; the same parameters skip the step (no tiles told)
    again: list[tuple[str, int, int]] = []
    run_step("terrain", {"dsm": dsm}, {}, tmp_path / "run", tile_size=64,
             progress=lambda *a: again.append(a), log=lambda _: None)
    assert again == []


def test_progress_false_and_true_still_work(small_city, tmp_path, capsys):
    dsm = small_city.truth("date1", "dsm")
    run_step("building_mask", {"ndsm": dsm}, {"min_height": 300.0}, tmp_path / "quiet", progress=False,
             log=lambda _: None)
    run_step("building_mask", {"ndsm": dsm}, {"min_height": 300.0}, tmp_path / "bar", progress=True,
             log=lambda _: None)
    assert (tmp_path / "bar" / "building_mask" / "mask.tif").is_file()
    assert "building_mask/mask" not in capsys.readouterr().out  # not a terminal: tqdm draws no bar
