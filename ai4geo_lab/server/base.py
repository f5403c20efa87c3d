"""What every handler shares: the JSON error body, request bodies as pydantic models, work in a thread."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import tornado.web
from jupyter_server.base.handlers import APIHandler
from pydantic import BaseModel, ValidationError

from ai4geo_lab.errors import Ai4geoError, InvalidInputError, format_validation_error

_EXECUTOR = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ai4geo-server")

Body = TypeVar("Body", bound=BaseModel)


_WORDS = {"less_than_equal": "at most {le}", "less_than": "less than {lt}", "greater_than_equal": "at least {ge}",
          "greater_than": "more than {gt}", "int_parsing": "a whole number is needed here",
          "int_from_float": "a whole number is needed here", "float_parsing": "a number is needed here",
          "missing": "this field is needed", "string_too_long": "at most {max_length} characters",
          "string_pattern_mismatch": "this is not an accepted value here"}


def _in_words(err: Any) -> str:
    """A pydantic error of one field as a form says it beside the field."""
    words = _WORDS.get(err.get("type", ""))
    try:
        ctx = {k: f"{v:g}" if isinstance(v, float) else v for k, v in err.get("ctx", {}).items()}
        return words.format(**ctx) if words else str(err["msg"])
    except (KeyError, IndexError):
        return str(err["msg"])


def error_body(exc: Exception) -> tuple[int, dict[str, Any]]:
    """The HTTP status and ``{error, hint, type}`` an exception becomes (plus ``field`` and ``fields`` when the
    error concerns fields of a form)."""
    if isinstance(exc, Ai4geoError):
        body: dict[str, Any] = {"error": exc.message, "hint": exc.hint, "type": type(exc).__name__}
        fields = getattr(exc, "fields", None)  # the form fields at fault (field → message), first one first
        if fields:
            body.update({"field": next(iter(fields)), "fields": fields})
        return exc.http_status, body
    if isinstance(exc, ValidationError):
        body = {"error": f"invalid request: {format_validation_error(exc)}",
                "hint": "check the fields of the request", "type": "ValidationError"}
        fields = {".".join(str(p) for p in e["loc"]): _in_words(e) for e in exc.errors() if e["loc"]}
        if fields:
            body.update({"field": next(iter(fields)), "fields": fields})
        return 400, body
    if isinstance(exc, json.JSONDecodeError):
        return 400, {"error": "the request body is not JSON", "hint": "send a JSON object", "type": "JSONDecodeError"}
    return 500, {"error": f"internal error: {type(exc).__name__}: {exc}", "hint": "see the Jupyter server log",
                 "type": type(exc).__name__}


def json_errors(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Turn exceptions of a handler method into a JSON error answer."""

    @functools.wraps(method)
    async def wrapper(self: BaseHandler, *args: Any, **kwargs: Any) -> Any:
        try:
            return await method(self, *args, **kwargs)
        except tornado.web.HTTPError:
            raise
        except Exception as exc:
            status, body = error_body(exc)
            if status >= 500:
                self.log.error("ai4geo: %s", body["error"], exc_info=exc)
            self.set_status(status)
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps(body))
            return None

    return wrapper


class BaseHandler(APIHandler):
    """Common parts: the settings, the workspace, the root folder, JSON bodies, work in a thread."""

    @property
    def ai4geo(self) -> Any:
        """The extension's state (settings, download jobs, cluster manager)."""
        return self.settings["ai4geo"]

    @property
    def clusters(self) -> Any:
        """The server's cluster manager, made on first use (so that the server starts quickly)."""
        state = self.ai4geo
        with state["lock"]:
            if state.get("clusters") is None:
                from ai4geo_lab.cluster.manager import ClusterManager

                state["clusters"] = ClusterManager(state["config"].workspace)
            return state["clusters"]

    @property
    def workspace(self) -> str | None:
        """The configured workspace (None: the default one)."""
        return self.ai4geo["config"].workspace

    @property
    def root_dir(self) -> Path:
        """The server's root folder: every path a request names is confined to it."""
        return Path(self.settings.get("server_root_dir") or self.ai4geo["root_dir"]).expanduser().resolve()

    def parse(self, model: type[Body]) -> Body:
        """The request body validated by ``model`` (a bad body answers 400 with every problem named)."""
        data = json.loads(self.request.body or b"{}")
        if not isinstance(data, dict):
            raise InvalidInputError("the request body must be a JSON object")
        return model.model_validate(data)

    @contextlib.contextmanager
    def without_server_paths(self) -> Iterator[None]:
        """Errors raised inside name files relative to the root folder: no server path reaches the browser."""
        try:
            yield
        except Ai4geoError as exc:
            root = str(self.root_dir)
            exc.message = exc.message.replace(root + "/", "").replace(root, ".")
            if exc.hint:
                exc.hint = exc.hint.replace(root + "/", "").replace(root, ".")
            raise

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a blocking core call in a worker thread (the server keeps answering meanwhile)."""
        return await asyncio.get_running_loop().run_in_executor(_EXECUTOR, functools.partial(fn, *args, **kwargs))

    def reply(self, data: Any, status: int = 200) -> None:
        """Answer ``data`` as JSON (strict JSON, which browsers parse: NaN and infinities become null)."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        try:
            text = json.dumps(data, default=str, allow_nan=False)
        except ValueError:
            text = json.dumps(_finite(data), default=str, allow_nan=False)
        self.finish(text)


def _finite(data: Any) -> Any:
    """``data`` with every non-finite float (NaN, ±inf: not JSON) replaced by None."""
    import math

    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: _finite(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_finite(v) for v in data]
    return data
