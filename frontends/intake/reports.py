"""GET /v1/reports/x, /v1/reports/z and /v1/reports/gst: the figures of `tillpost report x|z|gst --json`,
read-only (a Z is issued by `tillpost report z`, never over HTTP). A key bound to a company reads only
that company's outlets and returns (403 otherwise)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from domain.errors import FieldError, InvalidArgument, NotFound
from frontends.intake.auth import Caller, CallerOf
from frontends.intake.refusals import Forbidden, NotFoundHere, Unprocessable
from services import intake, reports

router = APIRouter(tags=["reports"])


def _own_outlet(request: Request, who: Caller, outlet: str) -> None:
    if who.company is not None and intake.company_of_outlet(request.app.state.db, outlet) != who.company:
        raise Forbidden(f"this key is {who.company}'s: outlet {outlet!r} is not one of its outlets")


def _answer(read: Any) -> dict[str, Any]:
    try:
        document: dict[str, Any] = read()
    except InvalidArgument as exc:
        raise Unprocessable([FieldError(exc.field, exc.reason)]) from None
    except NotFound as exc:
        raise NotFoundHere(str(exc)) from None
    return document


@router.get("/v1/reports/x")
def report_x(request: Request, who: CallerOf, outlet: str, date: str, cashier: str | None = None) -> dict[str, Any]:
    """An outlet's business day now (`report x --json`); with a Z issued, its number and what changed since."""
    _own_outlet(request, who, outlet)
    return _answer(lambda: reports.x_report(request.app.state.db, outlet, date, cashier))


@router.get("/v1/reports/z")
def report_z(request: Request, who: CallerOf, outlet: str, date: str) -> dict[str, Any]:
    """The Z issued for an outlet's business day, as issued; 404 when none was."""
    _own_outlet(request, who, outlet)
    return _answer(lambda: reports.issued_z_report(request.app.state.db, outlet, date))


@router.get("/v1/reports/gst")
def report_gst(
    request: Request,
    who: CallerOf,
    company: str,
    period: str | None = None,
    start: Annotated[str | None, Query(alias="from")] = None,
    end: Annotated[str | None, Query(alias="to")] = None,
) -> dict[str, Any]:
    """GST F5 boxes of a company's period (`period=2025Q1`, or `from` and `to` dates)."""
    if who.company is not None and who.company != company:
        raise Forbidden(f"this key is {who.company}'s, not {company}'s")
    return _answer(lambda: reports.gst_return(request.app.state.db, company, period, start, end))
