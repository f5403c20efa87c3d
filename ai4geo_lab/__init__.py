"""ai4geo_lab: satellite imagery to 3D geospatial information, from JupyterLab."""


def _version() -> str:
    """The installed distribution's version (set from labextension/package.json at build time); a source tree
    that was never installed reads that file; failing both, ``0+unknown``."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ai4geo-lab")
    except PackageNotFoundError:
        import json
        from pathlib import Path

        try:
            package = Path(__file__).resolve().parent.parent / "labextension" / "package.json"
            return str(json.loads(package.read_text())["version"])
        except (OSError, ValueError, KeyError):
            return "0+unknown"


__version__ = _version()
