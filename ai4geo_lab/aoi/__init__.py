"""Areas of interest: one geometry in EPSG:4326, from whatever a user has, validated, and saved by name."""

from ai4geo_lab.aoi.geometry import AOI, AOIWarning, to_aoi
from ai4geo_lab.aoi.resolve import resolve
from ai4geo_lab.aoi.upload import save_upload
from ai4geo_lab.aoi.workspace import delete_aoi, list_aois, load_aoi, save_aoi, unique_name, workspace_dir

__all__ = ["AOI", "AOIWarning", "delete_aoi", "list_aois", "load_aoi", "resolve", "save_aoi", "save_upload",
           "to_aoi", "unique_name", "workspace_dir"]
