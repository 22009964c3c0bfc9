"""The HTTP intake's app factory: `uvicorn --factory frontends.intake.app:create_app`.

One Database (engine) per process, made here; the routes call use cases (services/) only."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse

import workers.app  # noqa: F401  (the Celery app, configured by celeryconfig: what tasks.messages sends through)
from domain.errors import NotMigrated
from frontends.intake import refusals, reports, sales, webhooks
from runtime import settings
from services import lookups
from services.unit_of_work import connect

CONNECT_TIMEOUT = 3  # seconds: a database that does not answer is 503 soon, not a hung request


def create_app(config: settings.Settings | None = None) -> FastAPI:
    config = config or settings.load()
    _log_to_stderr()
    app = FastAPI(title="tillpost intake", version="1", description=__doc__)
    app.state.settings = config
    app.state.schema_checked = False
    app.state.db = connect(config, connect_args={"connect_timeout": CONNECT_TIMEOUT})
    refusals.install(app)
    for router in (sales.router, webhooks.router, reports.router):
        app.include_router(router, dependencies=[Depends(_schema_checked)])
    # /healthz makes the same check itself, every time, and says which way it failed
    app.add_api_route("/healthz", healthz, methods=["GET"], tags=["health"], responses=HEALTH)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


HEALTH: dict[int | str, dict[str, Any]] = {
    200: {"description": "the database answers", "content": {"application/json": {"example": {"database": "ok"}}}},
    503: {"description": "the database does not answer, or is not migrated (Retry-After)"},
}


def _schema_checked(request: Request) -> None:
    """Before a route's first use of the database in this process: the database answers and is
    migrated to this code's schema (else NotMigrated, a 503 naming `tillpost db upgrade`). Checked
    until it passes once, so a database migrated after the intake started is taken as it is."""
    if not request.app.state.schema_checked:
        lookups.answers(request.app.state.db)
        request.app.state.schema_checked = True


def healthz(request: Request) -> JSONResponse:
    """200 when the database answers and is migrated, else 503."""
    try:
        lookups.answers(request.app.state.db)
    except NotMigrated as exc:
        return JSONResponse(
            {"database": "not migrated", "detail": str(exc)},
            status_code=503,
            headers={"Retry-After": refusals.RETRY_AFTER},
        )
    except Exception as exc:
        logging.getLogger("tillpost.intake").warning("healthz: database does not answer (%s)", type(exc).__name__)
        return JSONResponse({"database": "unreachable"}, status_code=503, headers={"Retry-After": refusals.RETRY_AFTER})
    return JSONResponse({"database": "ok"})


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        spec.setdefault("components", {}).setdefault("schemas", {}).update(sales.sale_request_schema())
        app.openapi_schema = spec
    return app.openapi_schema


def _log_to_stderr() -> None:
    """What each delivery became, one line each (uvicorn configures only its own loggers)."""
    log = logging.getLogger("tillpost.intake")
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
