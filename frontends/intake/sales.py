"""POST /v1/sales and GET /v1/sales/{request_id}: a sale request in the wire format of
../shared/DOMAIN.md, validated by the same pydantic model the workers use (nothing refused is stored)."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from domain.errors import AmbiguousCode, Invalid, NotFound
from domain.posting.request import SaleRequest, parse_request
from domain.vocabulary import Outcome
from frontends.intake.auth import CallerOf
from frontends.intake.body import decode_json, read_body
from frontends.intake.refusals import Ambiguous, Forbidden, NotFoundHere, Unprocessable, documented
from frontends.intake.sending import send_now
from services import intake, lookups

log = logging.getLogger("tillpost.intake")
router = APIRouter(tags=["sales"])


class Accepted(BaseModel):
    request_id: str | None
    outcome: str | None
    note: str | None = None


class SaleDocument(BaseModel):
    """The keys of `tillpost sale show --json`."""

    request_id: str
    outcome: str
    reason: str | None
    message: str | None
    transaction_number: str | None
    subtotal: str | None
    tax: str | None
    rounding_adjustment: str | None
    total: str | None
    change_due: str | None
    points_earned: int | None
    errors: list[dict[str, Any]] | None = None


SALE_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SaleRequest"}}},
}


@router.post(
    "/v1/sales",
    status_code=202,
    response_model=Accepted,
    responses=documented(401, 403, 413, 422, 503),
    openapi_extra={"requestBody": SALE_BODY},
)
async def post_sale(request: Request, background: BackgroundTasks, who: CallerOf) -> Accepted:
    """Record one sale request (202 once it is committed in PostgreSQL), then send it at once."""
    body = await read_body(request)
    payload = decode_json(body)
    try:
        sale = parse_request(payload)
    except Invalid as exc:
        raise Unprocessable(exc.errors) from None
    db = request.app.state.db
    if who.company is not None and await run_in_threadpool(intake.company_of_outlet, db, sale.outlet) != who.company:
        raise Forbidden(f"this key is {who.company}'s: outlet {sale.outlet!r} is not one of its outlets")
    [intake_id] = await run_in_threadpool(intake.receive, db, [payload])
    log.info("sale request %s recorded (intake id %d): PENDING, sent to post", sale.request_id, intake_id)
    background.add_task(send_now, [intake_id], f"sale request {sale.request_id}")
    return Accepted(request_id=sale.request_id, outcome=Outcome.PENDING)


@router.get(
    "/v1/sales/{request_id}",
    response_model=SaleDocument,
    response_model_exclude_none=False,
    responses=documented(401, 404, 409, 503),
)
def get_sale(request_id: str, request: Request, who: CallerOf) -> dict[str, Any]:
    """The request's outcome and, when posted, the sale (`sale show --json`)."""
    try:
        return lookups.sale_show(request.app.state.db, request_id, who.company)
    except NotFound:
        raise NotFoundHere(f"sale request {request_id!r} was never received") from None
    except AmbiguousCode as exc:
        raise Ambiguous(
            f"sale request {request_id!r} exists in several companies: {', '.join(exc.companies)}"
        ) from None


def sale_request_schema() -> dict[str, Any]:
    """The wire format's JSON schema, its definitions as components (for GET /openapi.json)."""
    schema = _with_decimal_bounds(SaleRequest.model_json_schema(ref_template="#/components/schemas/{model}"))
    return {"SaleRequest": {k: v for k, v in schema.items() if k != "$defs"}, **schema.get("$defs", {})}


# pydantic cannot place a decimal field's bounds (gt, ge, le) on its "number or string" input, so it
# leaves them as keys JSON Schema does not know, and the spec would not say them. Written here as JSON
# Schema: the bounds on the number, and on both forms the decimal places the wire format allows
# (../shared/DOMAIN.md: quantity 3, unit price 4, money 2).
_BOUNDS = {"gt": "exclusiveMinimum", "ge": "minimum", "le": "maximum"}
DECIMAL_PLACES = {("Line", "quantity"): 3, ("Line", "unit_price"): 4, ("Line", "discount"): 2, ("Tender", "amount"): 2}


def _with_decimal_bounds(schema: dict[str, Any]) -> dict[str, Any]:
    for (model, name), places in DECIMAL_PLACES.items():
        field = schema["$defs"][model]["properties"][name]
        options = field["anyOf"]
        decimal = next((o for o in options if "anyOf" in o), field)  # an optional field nests it
        bounds = {_BOUNDS[k]: float(decimal.pop(k)) for k in list(decimal) if k in _BOUNDS}
        digits = len(str(int(bounds["maximum"]))) - 1  # below the maximum whatever its places
        decimal["anyOf"] = [
            {"type": "number", "multipleOf": float(Decimal(1).scaleb(-places)), **bounds},
            {"type": "string", "pattern": rf"^[0-9]{{1,{digits}}}(\.[0-9]{{1,{places}}})?$"},
        ]
        field["description"] = f"a decimal of at most {places} places, as a string or a number read exactly"
    return schema
