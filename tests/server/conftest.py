"""What the server tests share: the server's config (the extension on, the offline base map) and a JSON call."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError


def server_config(**ai4geo: Any) -> Any:
    """A Jupyter server config with the ai4geo_lab extension on, no tile server, and these ``Ai4geoLab`` settings."""
    from traitlets.config import Config

    return Config({"ServerApp": {"jpserver_extensions": {"ai4geo_lab.server": True}},
                   "Ai4geoLab": {"tile_url": "", **ai4geo}})


@pytest.fixture
def jp_server_config():
    return server_config()


async def api_json(jp_fetch, *parts, method="GET", body=None, expect=200, **kw):
    """``ai4geo/<parts>`` answered with the status ``expect``: its JSON body (None when empty)."""
    try:
        resp = await jp_fetch("ai4geo", *parts, method=method, body=None if body is None else json.dumps(body), **kw)
    except HTTPClientError as exc:
        assert exc.code == expect, exc.response.body if exc.response else exc
        return json.loads(exc.response.body)
    assert resp.code == expect, resp.body
    return json.loads(resp.body) if resp.body else None
