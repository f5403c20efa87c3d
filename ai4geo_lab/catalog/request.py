"""A catalogue search as plain data (what a page token encodes and a REST payload carries), and the errors
that providers' failures become."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from ai4geo_lab.errors import (
    Ai4geoError,
    ConfigError,
    InvalidInputError,
    ProviderAuthError,
    ProviderError,
    UnknownCollectionError,
    at_field,
)

DEFAULT_LIMIT = 20
MAX_LIMIT = 500


# The one description of a search's fields: the CLI options, the server's search body and the Lab extension's types
# (labextension/schema/search_request.json, written by scripts/schemas.py) are made from it.
class SearchRequest(BaseModel):
    """A search, as plain data: what a page token encodes and what a REST payload carries."""

    collection: str = Field(description="collection id")
    aoi: dict[str, Any] | None = Field(None, description="GeoJSON geometry in EPSG:4326")
    start: str | None = Field(None, description="ISO 8601 date or date-time (UTC if no offset)")
    end: str | None = Field(None, description="ISO 8601 date or date-time; a date means its whole day")
    max_cloud: float | None = Field(None, ge=0, le=100, description="maximum cloud cover (%)")
    provider: str | None = Field(None, description="'local', an EODAG provider, a STAC API URL or a catalogue path")
    queryables: dict[str, Any] = Field(default_factory=dict, description="equality filters on item properties")
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="items per page")
    page: int = Field(1, ge=1, description="page number, from 1")
    cursor: dict[str, Any] | None = Field(None, description="the provider's own next-page token, if it has one")

    def token(self) -> str:
        """This request as an opaque, URL-safe page token."""
        return base64.urlsafe_b64encode(json.dumps(self.model_dump(), separators=(",", ":")).encode()).decode()

    @classmethod
    def from_token(cls, token: str) -> SearchRequest:
        """The request a page token stands for."""
        try:
            return cls.model_validate(json.loads(base64.urlsafe_b64decode(token.encode())))
        except Exception as exc:
            raise InvalidInputError("the page token is not valid", "use the next_token of a search result") from exc


def unknown_collection(collection: str, known: list[str], where: str) -> UnknownCollectionError:
    import difflib

    close = difflib.get_close_matches(collection, known, n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}?" if close else (
        f"known collections: {', '.join(known[:15])}{'…' if len(known) > 15 else ''}" if known else
        "this provider lists no collections")
    return UnknownCollectionError(f"unknown collection '{collection}' in {where}", hint, field="collection")


def eodag_error(exc: Exception, provider: str | None, workspace: str | Path | None) -> Ai4geoError:
    """The error an EODAG failure becomes, naming the form field at fault (the provider unless told otherwise)."""
    return at_field(_eodag_error(exc, provider, workspace), "provider")


def _eodag_error(exc: Exception, provider: str | None, workspace: str | Path | None) -> Ai4geoError:
    from eodag.utils import exceptions as ex

    from ai4geo_lab.catalog import sources as prov

    who = f"provider '{provider}'" if provider else "EODAG"
    cfg = prov.eodag_config_dir(workspace)
    if isinstance(exc, ex.AuthenticationError) or "401" in str(exc) or "403" in str(exc):
        return ProviderAuthError(f"{who} refused the credentials",
                                 f"set them in {cfg}/eodag.yml or in EODAG__{(provider or 'X').upper()}__AUTH__"
                                 "CREDENTIALS__... environment variables")
    if isinstance(exc, ex.MisconfiguredError):
        return ProviderAuthError(f"{who} is not configured for this search (often: credentials missing)",
                                 f"set them in {cfg}/eodag.yml or in EODAG's environment variables")
    if isinstance(exc, ex.TimeOutError):
        return ProviderError(f"{who} did not answer in time", "try again later, or with a smaller area or period")
    if isinstance(exc, ex.UnsupportedCollection | ex.NoMatchingCollection):
        return UnknownCollectionError(f"{who} does not know this collection",
                                      "see ai4geo_lab.catalog.collections(provider)", field="collection")
    if isinstance(exc, ex.ValidationError):
        return InvalidInputError(f"{who} refused the search parameters: {exc}", "check the queryables",
                                 field="queryables")
    if isinstance(exc, ex.UnsupportedProvider):
        return ConfigError(f"{who} cannot serve this search: {exc}", "choose another provider")
    return ProviderError(f"{who} failed: {type(exc).__name__}", "check the provider is reachable and try again")
