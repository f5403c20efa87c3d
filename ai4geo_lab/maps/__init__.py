"""Products on maps: Web-Mercator tiles, colour maps and legends of any georeferenced raster, per product kind.

The same functions serve the Lab's map (through the server extension's ``tiles``, ``raster/info`` and
``raster/value`` endpoints) and notebooks:

- :func:`raster_info`: bounds in EPSG:4326, CRS, size, bands, dtype, the product kind, value range and legend;
- :func:`raster_tile`: a 256 px PNG tile ``z/x/y`` coloured by kind (nodata transparent);
- :func:`raster_value`: the value under a longitude/latitude (and its class name);
- :func:`vector_layer`: a vector file (GeoPackage, GeoJSON, FlatGeobuf, Shapefile) as compact GeoJSON in EPSG:4326;
- :func:`catalogue_layers`: the raster and vector layers of the products a STAC catalogue lists.
"""

from ai4geo_lab.maps.rasters import KINDS, Kind, guess_kind, raster_info, raster_tile, raster_value
from ai4geo_lab.maps.stac import catalogue_layers
from ai4geo_lab.maps.vectors import vector_layer

__all__ = ["KINDS", "Kind", "catalogue_layers", "guess_kind", "raster_info", "raster_tile", "raster_value",
           "vector_layer"]
