"""The original sale of a return, read while posting the return (DOMAIN.md "original_request_id").

A return that names its original must find it posted in the same company, name no other customer,
and is priced from what the sale took less what its earlier returns gave back (refunds.py).
The original is locked FOR NO KEY UPDATE, so two returns of one sale take turns and the second sees
the first; foreign-key checks of follow-ups are not blocked.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from sqlalchemy import Connection, func, select

from domain.errors import OriginalStillPending, ReturnMismatch, UnknownOriginal
from domain.posting.money import ZERO
from domain.posting.refunds import SoldSku
from domain.posting.request import Kind, SaleRequest
from domain.tables import Customer, Outlet, Sale, SaleLine, SaleRequestRow
from domain.vocabulary import Outcome


@dataclass(frozen=True)
class Original:
    """The sale a return gives goods back to: its member, its SKUs and what is left of its total."""

    id: int
    customer_id: int | None
    sold: dict[str, SoldSku]
    left_to_refund: Decimal


def original_of(conn: Connection, company_id: int, request: SaleRequest, customer_id: int | None) -> Original:
    """The return's original sale, locked; raise when it is unknown, still pending or another customer's."""
    find_original = (
        select(Sale.id, Sale.customer_id, Sale.total)
        .where(Sale.company_id == company_id, Sale.request_id == request.original_request_id, Sale.kind == Kind.SALE)
        .with_for_update(key_share=True)  # FOR NO KEY UPDATE: serialises returns, not foreign-key checks
    )
    original = conn.execute(find_original).one_or_none()
    if original is None:
        if _received_but_pending(conn, company_id, request.original_request_id):
            raise OriginalStillPending(request.original_request_id or "")
        # Each statement sees what had committed when it began: the original may have posted between
        # the two above (no longer pending, its sale not seen). Look once more before rejecting.
        original = conn.execute(find_original).one_or_none()
    if original is None:
        raise UnknownOriginal(
            _why_unknown(conn, company_id, request.original_request_id or ""),
            original_request_id=request.original_request_id,
        )
    if request.customer is not None and customer_id != original.customer_id:
        _another_customer(conn, request, original.customer_id)
    refunded = conn.scalar(select(func.coalesce(func.sum(Sale.total), 0)).where(Sale.original_sale_id == original.id))
    return Original(original.id, original.customer_id, _sold(conn, original.id), original.total + (refunded or ZERO))


def _why_unknown(conn: Connection, company_id: int, original_request_id: str) -> str:
    is_a_return = select(Sale.id).where(
        Sale.company_id == company_id, Sale.request_id == original_request_id, Sale.kind == Kind.RETURN
    )
    if conn.execute(is_a_return).first() is not None:
        return f"original {original_request_id!r} is itself a return: a return names the sale it gives goods back to"
    return f"original sale {original_request_id!r} was never posted for this company"


def _sold(conn: Connection, original_id: int) -> dict[str, SoldSku]:
    """Per SKU: what the sale sold and took, and what its returns (stored negative) gave back."""
    lines = conn.execute(
        select(SaleLine.sku, SaleLine.quantity, SaleLine.amount, SaleLine.tax, SaleLine.gst_rate, SaleLine.sale_id)
        .join(Sale, Sale.id == SaleLine.sale_id)
        .where((Sale.id == original_id) | (Sale.original_sale_id == original_id))
        .order_by(Sale.id, SaleLine.line_no)  # the sale's own lines first
    )
    sold: dict[str, SoldSku] = {}
    for sku, quantity, amount, tax, rate, sale_id in lines:
        if sale_id == original_id:
            was = sold.get(sku, SoldSku(ZERO, ZERO, ZERO, rate))
            sold[sku] = replace(was, quantity=was.quantity + quantity, paid=was.paid + amount, tax=was.tax + tax)
        elif sku in sold:
            was = sold[sku]  # a return's line is stored negative
            back = {"returned": was.returned - quantity, "refunded": was.refunded - amount}
            sold[sku] = replace(was, **back, refunded_tax=was.refunded_tax - tax)
    return sold


def _another_customer(conn: Connection, request: SaleRequest, original_customer_id: int | None) -> None:
    """A return's points come off its sale's member: naming anyone else is a mistake, not a transfer."""
    was = conn.scalar(select(Customer.code).where(Customer.id == original_customer_id))
    to = f"customer {was!r}" if was is not None else "no customer"
    raise ReturnMismatch(
        f"the return names customer {request.customer!r} but its original sale "
        f"{request.original_request_id!r} was to {to}",
        customer=request.customer,
        original_customer=was,
    )


def _received_but_pending(conn: Connection, company_id: int, request_id: str | None) -> bool:
    """Is a sale with this request_id received for this company but not decided yet?"""
    return (
        conn.scalar(
            select(func.count())
            .select_from(SaleRequestRow)
            .join(Outlet, Outlet.code == SaleRequestRow.payload["outlet"].astext)
            .where(
                SaleRequestRow.request_id == request_id,
                SaleRequestRow.outcome == Outcome.PENDING,
                Outlet.company_id == company_id,
                func.coalesce(SaleRequestRow.payload["kind"].astext, Kind.SALE.value) == Kind.SALE,
            )
        )
        != 0
    )
