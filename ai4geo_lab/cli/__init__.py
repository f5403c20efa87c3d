"""The ``ai4geo`` command line: the same functions as the notebooks, widgets and server extension."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer

from ai4geo_lab.errors import Ai4geoError

app = typer.Typer(help="ai4geo_lab: satellite imagery to 3D geospatial information.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
aoi_app = typer.Typer(help="Named areas of interest, shared by the CLI, notebooks and JupyterLab.",
                      no_args_is_help=True)
sample_app = typer.Typer(help="The embedded sample city (synthetic, with ground truth).", no_args_is_help=True)
app.add_typer(sample_app, name="sample")
app.add_typer(aoi_app, name="aoi")

WorkspaceOpt = Annotated[Path | None, typer.Option(help="workspace folder (default: $AI4GEO_WORKSPACE or "
                                                        "~/ai4geo-workspace)")]


@aoi_app.command("save")
def aoi_save(
    name: Annotated[str, typer.Argument(help="name to save it under")],
    source: Annotated[str, typer.Argument(help="'west,south,east,north', WKT, GeoJSON, or a vector file")],
    crs: Annotated[str | None, typer.Option(help="CRS of the coordinates, if not longitude/latitude")] = None,
    max_area_km2: Annotated[float, typer.Option(help="refuse larger areas")] = 50_000.0,
    workspace: WorkspaceOpt = None,
) -> None:
    """Validate an AOI (repairing invalid geometry with a warning) and save it by name."""
    import warnings

    from ai4geo_lab.aoi import AOIWarning, load_aoi, save_aoi

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AOIWarning)
        path = save_aoi(source, name, workspace, crs=crs, max_area_km2=max_area_km2)
    for w in caught:
        typer.echo(f"ai4geo: warning: {w.message}", err=True)
    aoi = load_aoi(name, workspace)
    typer.echo(f"saved '{name}' ({aoi.area_km2:,.3f} km²) to {path}")


@aoi_app.command("list")
def aoi_list(workspace: WorkspaceOpt = None) -> None:
    """The saved AOIs, with their areas and bounds."""
    from ai4geo_lab.aoi import list_aois, load_aoi

    for name in list_aois(workspace):
        aoi = load_aoi(name, workspace)
        w, s, e, n = aoi.bounds
        typer.echo(f"{name:24s} {aoi.area_km2:12,.3f} km²  [{w:.5f}, {s:.5f}, {e:.5f}, {n:.5f}]")


@aoi_app.command("show")
def aoi_show(name: Annotated[str, typer.Argument()], workspace: WorkspaceOpt = None) -> None:
    """A saved AOI as GeoJSON."""
    from ai4geo_lab.aoi import load_aoi

    typer.echo(json.dumps(load_aoi(name, workspace).to_geojson()))


@sample_app.command("make")
def sample_make(
    out: Annotated[Path, typer.Option("--out", help="folder to create")],
    seed: Annotated[int, typer.Option(help="random seed (same seed, same city)")] = 0,
    size_m: Annotated[float, typer.Option("--size-m", help="side of the square city (m)")] = 600.0,
    gsd: Annotated[float, typer.Option(help="ground sampling distance (m)")] = 0.5,
    overwrite: Annotated[bool, typer.Option(help="replace an existing folder")] = False,
) -> None:
    """Generate the sample city: images, stereo pairs with RPCs, ground truth and a STAC catalogue."""
    from ai4geo_lab.sample import make_sample_city

    city = make_sample_city(out, seed=seed, size_m=size_m, gsd=gsd, overwrite=overwrite)
    typer.echo(f"sample city written to {city.root}")


@app.command("run")
def run_cmd(
    config: Annotated[Path, typer.Argument(help="YAML run configuration")],
    cluster: Annotated[str | None, typer.Option(
        help="where to run: local, local:N, tcp://host:port, slurm, pbs, gateway, kubernetes, synchronous, "
             "or a YAML file (default: the configuration's cluster section)")] = None,
    resume: Annotated[bool, typer.Option("--resume/--restart",
                                         help="skip finished steps and tiles (default), or start over")] = True,
    quiet: Annotated[bool, typer.Option(help="no progress bars")] = False,
    out: Annotated[Path | None, typer.Option("--out", help="output folder (default: the configuration's)")] = None,
) -> None:
    """Run a chain configuration; finished steps and tiles are not recomputed. Prints the time of each step."""
    from ai4geo_lab.pipeline import load_config, run

    run_config = load_config(config)
    if out is not None:
        run_config.output = out.resolve()
    result = run(run_config, progress=not quiet, cluster=cluster, restart=not resume)
    width = max(len(s) for s in result.wall_time_s) if result.wall_time_s else 4
    for step_id, seconds in result.wall_time_s.items():
        note = " (up to date)" if step_id in result.skipped else ""
        typer.echo(f"  {step_id:<{width}}  {seconds:7.1f} s{note}")
    typer.echo(f"{len(result.products)} products in {result.root} (STAC: {result.catalog})"
               + (f"; report: {result.report}" if result.report else ""))


@app.command("demo")
def demo_cmd(
    out: Annotated[Path, typer.Option("--out", help="output folder")] = Path("demo-out"),
    seed: Annotated[int, typer.Option(help="seed of the sample city")] = 0,
    size_m: Annotated[float, typer.Option("--size-m", help="side of the sample city (m)")] = 600.0,
    gsd: Annotated[float, typer.Option(help="ground sampling distance (m)")] = 0.5,
    workers: Annotated[int | None, typer.Option(help="local Dask workers (default: cores)")] = None,
    cluster: Annotated[str | None, typer.Option(help="where to run (as for `ai4geo run`)")] = None,
    quiet: Annotated[bool, typer.Option(help="no progress bars")] = False,
    dsm_engine: Annotated[str | None, typer.Option("--dsm-engine", help="native (the package's own stereo, fast; "
                                                   "default) or cars (CARS DSMs and bulldozer DTMs)")] = None,
    workspace: WorkspaceOpt = None,
    register: Annotated[bool, typer.Option(help="add the sample city's catalogue to the workspace's local "
                                           "catalogue (where the Lab's search panel finds it)")] = True,
) -> None:
    """Make the sample city, run the whole chain on it and write metrics.json and report.html."""
    from ai4geo_lab.demo import run_demo

    metrics = run_demo(out, seed=seed, size_m=size_m, gsd=gsd, workers=workers, progress=not quiet,
                       cluster=cluster, dsm_engine=dsm_engine, workspace=workspace, register=register)
    typer.echo(json.dumps(metrics, indent=1))
    typer.echo(f"report: {Path(out) / 'report.html'}")


@app.command("report")
def report_cmd(
    run_dir: Annotated[Path, typer.Argument(help="output folder of a run (holds run.json)")],
    reference: Annotated[list[str] | None, typer.Option(
        "--reference", "-r", help="PRODUCT=FILE, e.g. dsm.dsm=lidar.tif (repeatable)")] = None,
    landcover: Annotated[Path | None, typer.Option(
        help="reference land cover, for height errors by class and non-vegetated accuracy")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="report file (default: RUN_DIR/report.html)")] = None,
) -> None:
    """Report on a run: its products, and the quality and accuracy class of those with a reference."""
    from dataclasses import replace

    from ai4geo_lab.quality.run_report import build_run_report, parse_reference

    refs = [replace(parse_reference(r), landcover=landcover) for r in reference or []]
    report = build_run_report(run_dir, refs)
    path = report.save(out or Path(run_dir) / "report.html")
    for a in report.assessments:
        typer.echo(f"{Path(a.product).name}: {a.summary.get('accuracy_class', 'assessed')}")
    typer.echo(f"report: {path}")


@app.command("steps")
def steps_cmd(name: Annotated[str | None, typer.Argument(help="a step to describe")] = None) -> None:
    """List the chain's steps, or show one step's parameters (JSON Schema)."""
    from ai4geo_lab.pipeline import get_step, list_steps

    if name is None:
        for spec in list_steps():
            typer.echo(f"{spec.name:15s} {spec.description}  [in: {', '.join(spec.inputs)} → "
                       f"out: {', '.join(spec.outputs)}]")
        return
    spec = get_step(name)
    typer.echo(json.dumps(spec.params.model_json_schema(), indent=1))


# ---- data access: catalogue search and download, local catalogues, OpenStreetMap (ai4geo_lab.catalog, .osm) ----
from ai4geo_lab.cli import catalog as _catalog_cli  # noqa: E402  (light: heavy imports happen inside commands)

app.command("search")(_catalog_cli.search_cmd)
app.command("download")(_catalog_cli.download_cmd)
app.command("osm")(_catalog_cli.osm_cmd)
app.add_typer(_catalog_cli.catalog_app, name="catalog")

# ---- 3D from sensor images: CARS DSM, bulldozer DTM (ai4geo_lab.stereo, .terrain) ----
from ai4geo_lab.cli import stereo as _stereo_cli  # noqa: E402

app.command("dsm")(_stereo_cli.dsm_command())
app.command("dtm")(_stereo_cli.dtm_cmd)

# ---- building segmentation with U-Nets (ai4geo_lab.segmentation) ----
from ai4geo_lab.cli import segment as _segment_cli  # noqa: E402

app.add_typer(_segment_cli.segment_app, name="segment")

# ---- change detection (ai4geo_lab.change) ----
from ai4geo_lab.cli import change as _change_cli  # noqa: E402

app.add_typer(_change_cli.change_app, name="change")


def _interrupt(_signum: int, _frame: object) -> None:
    """Ctrl-C: Dask's client and its event loop log their own shutdown errors (tracebacks included) while the
    interrupt unwinds; the user gets the one line of :func:`main` instead."""
    for name in ("distributed", "tornado", "asyncio"):
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)
    raise KeyboardInterrupt


def build_cli() -> typer.Typer:
    """The ``ai4geo`` command: the commands above, and one command per registered step (generated from the step's
    parameter model, so a step registered at run time has its command too). ``ai4geo segment predict`` is the
    ``segment`` step's command."""
    from ai4geo_lab.cli.models import add_step_commands
    from ai4geo_lab.pipeline import list_steps

    add_step_commands(app, {"segment": _segment_cli.segment_app, "change": _change_cli.change_app}, list_steps())
    segment = _segment_cli.segment_app.registered_commands
    run = [c for c in segment if c.name == "run"]
    if run and run[0].callback is not None and not any(c.name == "predict" for c in segment):
        _segment_cli.segment_app.command("predict")(run[0].callback)
    return app


def main(argv: list[str] | None = None) -> int:
    """Entry point: user errors are printed on one line, without a traceback, with exit code 2."""
    try:
        code = build_cli()(args=argv, prog_name="ai4geo", standalone_mode=False)
        if code == 130:  # typer turns Ctrl-C into this exit code
            raise typer.Abort()
        if isinstance(code, int) and code:
            return code
    except Ai4geoError as exc:
        typer.echo(f"ai4geo: error: {exc}", err=True)
        return 2
    except typer.Abort:
        typer.echo("ai4geo: interrupted; finished tiles are kept, run again to resume", err=True)
        return 130
    except Exception as exc:  # usage errors (unknown command or option…): click's own, shown as click shows them
        show, exit_code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(exit_code, int):
            show()
            return exit_code
        raise
    return 0


def entry() -> None:
    """Console-script entry point."""
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is \
            signal.default_int_handler:  # an ignored Ctrl-C stays ignored
        signal.signal(signal.SIGINT, _interrupt)
    sys.exit(main())


