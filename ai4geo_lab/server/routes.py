"""The URLs of the server extension, under ``BASE_URL/ai4geo/``."""

from __future__ import annotations

import atexit
import threading
from typing import Any

from jupyter_server.utils import url_path_join

from ai4geo_lab.server.aois import AOIHandler, AOIsHandler
from ai4geo_lab.server.catalog import (
    CodeHandler,
    CollectionsHandler,
    DownloadHandler,
    DownloadsHandler,
    InventoryHandler,
    LocalCatalogHandler,
    ProvidersHandler,
    QueryablesHandler,
    QuicklookFileHandler,
    QuicklooksHandler,
    SearchHandler,
)
from ai4geo_lab.server.clusters import ClusterHandler, ClustersHandler
from ai4geo_lab.server.config import ConfigHandler, OutlinesHandler
from ai4geo_lab.server.job_records import JobRecords, records_dir
from ai4geo_lab.server.jobs import JobHandler, JobRunner, JobsHandler
from ai4geo_lab.server.maps import (
    RasterInfoHandler,
    RasterValueHandler,
    StacLayersHandler,
    TileHandler,
    VectorHandler,
)
from ai4geo_lab.server.recipes import RecipeHandler, RecipesHandler
from ai4geo_lab.server.steps import StepHandler, StepsHandler

NAME = r"([A-Za-z0-9][A-Za-z0-9_.-]{0,127})"

ROUTES: list[tuple[str, type]] = [
    ("config", ConfigHandler), ("outlines", OutlinesHandler), ("providers", ProvidersHandler),
    ("collections", CollectionsHandler),
    ("queryables", QueryablesHandler), ("search", SearchHandler), ("code", CodeHandler),
    ("quicklooks", QuicklooksHandler), (f"quicklooks/{NAME}", QuicklookFileHandler),
    ("downloads", DownloadsHandler), (r"downloads/([A-Za-z0-9_-]+)", DownloadHandler),
    ("catalog/local", LocalCatalogHandler),
    ("inventory", InventoryHandler), ("aois", AOIsHandler), (f"aois/{NAME}", AOIHandler),
    ("clusters", ClustersHandler), (r"clusters/([A-Za-z0-9_.-]+)", ClusterHandler),
    ("recipes", RecipesHandler), (f"recipes/{NAME}", RecipeHandler),
    ("steps", StepsHandler), (f"steps/{NAME}", StepHandler),
    ("jobs", JobsHandler), (r"jobs/([a-f0-9]{1,32})", JobHandler),  # the ids of job_records.JOB_ID
    (r"tiles/(\d{1,2})/(\d{1,10})/(\d{1,10})\.png", TileHandler), ("raster/info", RasterInfoHandler),
    ("raster/value", RasterValueHandler), ("vector", VectorHandler), ("stac/layers", StacLayersHandler),
]


def setup_handlers(serverapp: Any, config: Any) -> None:
    """Register the handlers under ``BASE_URL/ai4geo/``."""
    from ai4geo_lab.catalog.jobs import DownloadJobs

    web_app = serverapp.web_app
    # the jobs of an earlier server under the same root folder are listed again (WORKSPACE/jobs)
    jobs = JobRunner(records=JobRecords(records_dir(config.workspace)), root=serverapp.root_dir)
    state = {"config": config, "downloads": DownloadJobs(), "clusters": None, "root_dir": serverapp.root_dir,
             "lock": threading.Lock(), "jobs": jobs}
    web_app.settings["ai4geo"] = state
    base = url_path_join(web_app.settings["base_url"], "ai4geo")
    web_app.add_handlers(".*$", [(url_path_join(base, path), handler) for path, handler in ROUTES])
    atexit.register(lambda: state["clusters"] is not None and state["clusters"].close_all())
    atexit.register(state["jobs"].close_all)
