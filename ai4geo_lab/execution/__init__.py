"""Where tiles run: tile grids, the one tiled executor, the run manifest, mosaics and STAC lineage."""
