"""The ASGI app (Starlette) and :func:`serve` (uvicorn): GET routes over a :class:`~.pages.Dashboard`.

Safe by default: only GET (and HEAD) routes, so there is no write endpoint; a
request's values are bounded in length and only reach SQL as bound parameters;
no route serves a file (the one script is a string in
:mod:`policy_store.dashboard.html`); the server binds to 127.0.0.1 unless told
otherwise, and then answers only requests addressed to a loopback name (a page
on another site cannot reach it through DNS rebinding). Each response carries a
Content-Security-Policy that allows the dashboard's own script and nothing else.

A request with the header ``X-Dashboard-Fragment: 1`` gets only the page's
``<main>`` content and its data signature (``X-Signature``): what the poller
swaps in when ``/api/changes`` reports a new signature.

>>> import tempfile
>>> from policy_store import PolicyStore
>>> path = tempfile.mkdtemp() + "/store.duckdb"
>>> PolicyStore(path).close()
>>> sorted(m for r in create_app(path).routes for m in r.methods)[:2], len(create_app(path).routes)
(['GET', 'GET'], 10)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from policy_store.dashboard.html import CSP, LIVE_JS, render_page
from policy_store.dashboard.pages import Dashboard, View
from policy_store.dashboard.reader import StoreBusyError
from policy_store.errors import InvalidInputError, NotFoundError, PolicyStoreError
from policy_store.reports.svg import esc

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8765
#: Longest name (study, task, rule) a request may carry.
MAX_NAME = 1000
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store"}


def _headers(**extra: str) -> dict[str, str]:
    return {**_HEADERS, **extra}


def _name(request: Request, key: str) -> str | None:
    value = request.query_params.get(key)
    if value is not None and not 0 < len(value) <= MAX_NAME:
        raise InvalidInputError(f"must be 1 to {MAX_NAME} characters", field=key)
    return value


def _page(request: Request) -> int:
    raw = request.query_params.get("page", "1")
    if not raw.isdigit() or not 1 <= int(raw) <= 1_000_000:
        raise InvalidInputError(f"must be a page number, got {raw[:40]!r}", field="page")
    return int(raw)


def create_app(location: str | os.PathLike[str], *, spool_dir: str | os.PathLike[str] | None = None,
               refresh: float = 1.0, cache_size: int = 256, max_share: float = 0.25,
               allowed_hosts: tuple[str, ...] = LOOPBACK) -> Starlette:
    """The dashboard app over the store at ``location``.

    Parameters
    ----------
    location:
        A store file or a ``ducklake:`` location; opened read-only, briefly, per change.
    spool_dir:
        The spool directory of running studies (default ``<store>.spool``).
    refresh:
        Seconds between the page's checks for changes.
    cache_size:
        Answers cached per store signature (0: none, for benchmarks).
    max_share:
        Most of the time the app may hold the store file's lock (1: no pause between reads, for benchmarks).
    allowed_hosts:
        Host names requests may be addressed to (``("*",)`` for any).
    """
    board = Dashboard(location, spool_dir=spool_dir, cache_size=cache_size, max_share=max_share)
    refresh_ms = max(250, int(refresh * 1000))

    def respond(request: Request, view: Callable[[], View]) -> Response:
        try:
            v = view()
        except NotFoundError as e:
            return error(request, 404, "Not found", str(e))
        except StoreBusyError as e:
            return error(request, 503, "Store busy", str(e), {"Retry-After": "1"})
        except InvalidInputError as e:
            return error(request, 400, "Bad request", str(e))
        if request.headers.get("x-dashboard-fragment") == "1":
            return HTMLResponse(v.main, headers=_headers(**{"X-Signature": v.signature}))
        subtitle = f"Store {board.reader.masked} · read-only"
        return HTMLResponse(render_page(v.title, v.main, active=v.active, subtitle=subtitle,
                                        signature=v.signature, refresh_ms=refresh_ms), headers=_headers())

    def error(request: Request, status: int, title: str, message: str,
              extra: dict[str, str] | None = None) -> Response:
        main = f'<p class="empty" data-error="{status}">{esc(message)}</p>'
        headers = _headers(**(extra or {}))
        if request.headers.get("x-dashboard-fragment") == "1":
            return HTMLResponse(main, status, headers=headers)
        return HTMLResponse(render_page(title, main, active="", subtitle=f"Store {board.reader.masked}",
                                        signature="", refresh_ms=refresh_ms), status, headers=headers)

    def route(build: Callable[[Request], View]) -> Callable[[Request], Response]:
        def endpoint(request: Request) -> Response:
            try:
                return respond(request, lambda: build(request))
            except PolicyStoreError as e:
                return error(request, 500, "Error", str(e))
        return endpoint

    def study(request: Request) -> View:
        name = _name(request, "name")
        if name is None:
            raise InvalidInputError("name the study: /study?name=STUDY", field="name")
        return board.study(name)

    def lineage(request: Request) -> View:
        rule = _name(request, "rule")
        if rule is None:
            raise InvalidInputError("name the rule: /lineage?rule=RULE", field="rule")
        return board.lineage(rule)

    def changes(request: Request) -> Response:
        try:
            return JSONResponse({"signature": board.signature()}, headers=_headers())
        except PolicyStoreError as e:
            return JSONResponse({"error": str(e)}, 503, headers=_headers())

    def script(request: Request) -> Response:
        return Response(LIVE_JS, media_type="text/javascript", headers=_headers())

    routes: list[Any] = [
        Route("/", route(lambda r: board.overview())),
        Route("/studies", route(lambda r: board.studies(_page(r), _name(r, "task")))),
        Route("/study", route(study)),
        Route("/halted", route(lambda r: board.halted(_name(r, "study")))),
        Route("/recommendations", route(lambda r: board.recommendations(_page(r)))),
        Route("/drift", route(lambda r: board.drift(_name(r, "rule"), _name(r, "metric") or "regret"))),
        Route("/rules", route(lambda r: board.rules())),
        Route("/lineage", route(lineage)),
        Route("/api/changes", changes),
        Route("/static/live.js", script),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))])
    app.state.dashboard = board
    return app


def serve(location: str | os.PathLike[str], *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
          spool_dir: str | os.PathLike[str] | None = None, refresh: float = 1.0,
          echo: Callable[[str], Any] = print) -> None:
    """Serve the dashboard until interrupted (uvicorn, one process).

    A host other than a loopback address accepts requests addressed to any name: say so explicitly.
    """
    import socket

    import uvicorn

    # A port in use is the user's to fix: say so in one line (uvicorn would log it and exit on its own).
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    with socket.socket(family) as probe:
        probe.bind((host.strip("[]"), port))
    loopback = host in LOOPBACK
    app = create_app(location, spool_dir=spool_dir, refresh=refresh,
                     allowed_hosts=LOOPBACK if loopback else ("*",))
    shown = f"[{host}]" if ":" in host else host
    echo(f"policy-store dashboard on http://{shown}:{port}/ (read-only; Ctrl-C stops it)")
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
