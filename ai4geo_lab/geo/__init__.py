"""Geospatial foundations: RPC sensor models, tile grids, raster and vector I/O."""
