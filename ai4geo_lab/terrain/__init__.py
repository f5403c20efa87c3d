"""Terrain: DTM extraction from a DSM, and normalised DSM (height above ground)."""
