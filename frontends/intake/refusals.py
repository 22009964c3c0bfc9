"""What the intake refuses, and how each refusal is answered: a status, a plain message, never a
traceback. Nothing of a refused body is stored (each is raised before anything is recorded)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel
from sqlalchemy.exc import InterfaceError, OperationalError, ProgrammingError

from domain.errors import FieldError, NotMigrated, TransientError
from frontends.outages import schema_missing

log = logging.getLogger("tillpost.intake")
RETRY_AFTER = "5"  # seconds: PostgreSQL down is a fault of the moment; Shopify retries on a 5xx anyway


class Refused(Exception):
    status = 400
    detail = "refused"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or self.detail)
        self.detail = detail or self.detail

    def body(self) -> dict[str, Any]:
        return {"detail": self.detail}


class Unauthenticated(Refused):
    status, detail = 401, "a valid key or signature is required"


class Forbidden(Refused):
    status, detail = 403, "this key may not post or read for that company"


class NotFoundHere(Refused):
    status, detail = 404, "never received"


class Ambiguous(Refused):
    status = 409


class TooLarge(Refused):
    status, detail = 413, "the body is over 1 MiB"


class Unprocessable(Refused):
    status, detail = 422, "the request does not match the schema"

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__()
        self.errors = errors

    def body(self) -> dict[str, Any]:
        return {"detail": [{"loc": ["body", *filter(None, [e.field])], **e.as_dict()} for e in self.errors]}


class Refusal(BaseModel):
    """A refusal's body: what was refused, in plain words."""

    detail: str


class FieldProblem(BaseModel):
    loc: list[str]
    field: str
    reason: str


class FieldProblems(BaseModel):
    """A 422's body: each field that failed, and why."""

    detail: list[FieldProblem]


_DESCRIBED = {
    401: "a missing or wrong key or signature",
    403: "a key bound to another company",
    404: "never received",
    409: "the request id is used by several companies (the installation's key)",
    413: "the body is over 1 MiB",
    422: "malformed JSON, or a request failing the schema (each field and why)",
    503: "the database cannot be reached, or is not migrated: nothing was recorded, try again (Retry-After)",
}


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` of a route's refusals, so the spec names every status it answers."""
    return {
        status: {"description": _DESCRIBED[status], "model": FieldProblems if status == 422 else Refusal}
        for status in statuses
    }


def install(app: FastAPI) -> None:
    app.add_exception_handler(Refused, _refused)
    for fault in (TransientError, OperationalError, InterfaceError):
        app.add_exception_handler(fault, _database_down)
    app.add_exception_handler(NotMigrated, _not_migrated)
    app.add_exception_handler(ProgrammingError, _not_migrated)
    app.add_exception_handler(Exception, _crashed)


async def _refused(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Refused)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthenticated) else None
    return JSONResponse(exc.body(), status_code=exc.status, headers=headers)


async def _database_down(request: Request, exc: Exception) -> JSONResponse:
    log.warning(
        "%s %s: PostgreSQL cannot be reached (%s); answered 503", request.method, request.url.path, type(exc).__name__
    )
    return JSONResponse(
        {"detail": "the database cannot be reached; nothing was recorded, try again"},
        status_code=503,
        headers={"Retry-After": RETRY_AFTER},
    )


async def _not_migrated(request: Request, exc: Exception) -> Response:
    """The database lacks the schema this code needs: 503 saying what to run, never a bare 500."""
    if isinstance(exc, NotMigrated):
        problem = str(exc)
    else:
        missing = schema_missing(exc)
        if missing is None:  # a statement's own mistake: a bug
            return await _crashed(request, exc)
        problem = f"the database is not migrated (it has no {missing}): run `tillpost db upgrade`"
    log.warning("%s %s: %s; answered 503", request.method, request.url.path, problem)
    return JSONResponse({"detail": problem}, status_code=503, headers={"Retry-After": RETRY_AFTER})


async def _crashed(request: Request, exc: Exception) -> PlainTextResponse:
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return PlainTextResponse("internal error: the intake logged it", status_code=500)
