"""Vectorisation: building masks to regularised footprint polygons."""
