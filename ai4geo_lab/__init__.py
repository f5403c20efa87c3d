"""ai4geo_lab: satellite imagery to 3D geospatial information, from JupyterLab."""

__version__ = "0.1.0"
