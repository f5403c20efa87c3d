"""One exception hierarchy: every message says what is wrong and what to do."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


class Ai4geoError(Exception):
    """Base class of every error ai4geo_lab raises on purpose.

    The message is meant for a user: what went wrong, then what to do about it.
    The CLI prints it on one line without a traceback; the server maps it to an HTTP status. ``field`` names the
    form field at fault when there is one (``fields``: field → message), so that forms say it beside that field.
    """

    http_status: int = 400

    def __init__(self, message: str, hint: str | None = None, field: str | None = None) -> None:
        self.message = message
        self.hint = hint
        self.fields: dict[str, str] = {field: message} if field else {}
        super().__init__(f"{message} — {hint}" if hint else message)

    @property
    def field(self) -> str | None:
        """The form field at fault (the first of ``fields``), or None."""
        return next(iter(self.fields), None)


def at_field(exc: Ai4geoError, field: str) -> Ai4geoError:
    """``exc``, naming ``field`` as the one at fault unless it names a field already."""
    if not exc.fields:
        exc.fields = {field: exc.message}
    return exc


class InputNotFoundError(Ai4geoError):
    """A file or folder the user named does not exist."""

    http_status = 404


class InvalidInputError(Ai4geoError):
    """A file exists but cannot be read as what it should be (bad raster, bad YAML, bad geometry...)."""


class ConfigError(Ai4geoError):
    """A run configuration or a step's parameters are invalid."""


class UnknownStepError(ConfigError):
    """A configuration names a step the registry does not know."""


class OutputNotWritableError(Ai4geoError):
    """The output folder cannot be created or written."""

    http_status = 403


class NameTakenError(OutputNotWritableError):
    """Something is already saved under the name given, and overwriting it was not asked for."""

    http_status = 409


class MissingDependencyError(Ai4geoError):
    """An optional dependency is not installed."""

    http_status = 501


class ProcessingError(Ai4geoError):
    """A processing step failed on valid input."""

    http_status = 500


class UnknownCollectionError(InvalidInputError):
    """A search names a collection the provider does not know."""

    http_status = 404


class ProviderError(Ai4geoError):
    """A data provider (catalogue, STAC API, Overpass) is unreachable, timed out or answered with an error."""

    http_status = 502


class ProviderAuthError(ProviderError):
    """A data provider refused the credentials (or needs some)."""

    http_status = 401


class DiskFullError(OutputNotWritableError):
    """The disk filled up while writing; partial files are kept for a resume."""

    http_status = 507


def missing_dependency(package: str, extra: str) -> MissingDependencyError:
    """Build the error for an optional import that failed."""
    return MissingDependencyError(
        f"this feature needs the Python package '{package}', which is not installed",
        f"install it with: pip install 'ai4geo-lab[{extra}]'",
    )


def installed_version(module: str, distribution: str, extra: str) -> str:
    """The installed version of an optional dependency, or the error naming the extra that brings it."""
    import importlib.util
    from importlib.metadata import PackageNotFoundError, version

    try:
        if importlib.util.find_spec(module) is None:
            raise missing_dependency(distribution, extra)
        return version(distribution)
    except (ImportError, ValueError, PackageNotFoundError) as exc:
        raise missing_dependency(distribution, extra) from exc


class NoOverlapError(InvalidInputError):
    """Images (or an image and a ROI) that should cover the same ground do not."""


class IncompleteProductError(ProcessingError):
    """A product was made but misses much of the area it should cover (kept for inspection, not called done)."""


def format_validation_error(exc: ValidationError, where: str = "") -> str:
    """One readable line per problem of a pydantic validation error."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        parts.append(f"{where}{loc}: {err['msg']}" if loc else f"{where}{err['msg']}")
    return "; ".join(parts)
