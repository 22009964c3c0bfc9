"""Shopify orders, refunds and cancellations as sale requests (README "Web orders").

request_ids: "shopify:ORDER_ID" (the sale), "shopify:refund:REFUND_ID" (a return of its refunded
lines and shipping), "shopify:cancel:ORDER_ID" (a full return of a cancelled posted order).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from frontends.web.common import (
    SHIPPING_SKU,
    email_of,
    not_mapped,
    number,
    plain,
    sale_request,
    tender,
    text,
    unmapped_refund,
)

SECURED = ("paid", "partially_paid", "authorized")  # financial_status once payment is secured
ORDER_TOPICS = ("orders/create", "orders/paid")
NEVER_POSTED = ("pending", "expired")  # a cancelled order in these states was never posted


def order_id(order: dict[str, Any]) -> str:
    return text(order.get("id"))


def gateway_of(order: dict[str, Any]) -> str:
    names = order.get("payment_gateway_names")
    if isinstance(names, list) and names and isinstance(names[0], str):
        return names[0]
    return text(order.get("gateway"))


def order_request(order: dict[str, Any], outlet: str) -> dict[str, Any]:
    """The sale: its lines (per-line discounts), shipping as a SHIPPING line, one tender of total_price."""
    lines = [_line(item) for item in _list(order, "line_items") if number(item.get("quantity")) != 0]
    return sale_request(
        f"shopify:{order_id(order)}",
        outlet,
        order.get("created_at"),
        lines=lines + _shipping(order),
        tenders=[tender(order.get("total_price"), gateway_of(order))],
        currency=order.get("currency"),
        prices_include_gst=order.get("taxes_included"),
        notes=f"Shopify order {text(order.get('name'))}".strip()[:500],
    )


def cancel_request(order: dict[str, Any], outlet: str) -> dict[str, Any]:
    """A full return of every line and the shipping, refunding total_price (the tender rules decide
    when the ledger's total differs)."""
    lines = [
        {"sku": _sku(item), "quantity": item.get("quantity")}
        for item in _list(order, "line_items")
        if number(item.get("quantity")) != 0
    ]
    shipping = [{"sku": SHIPPING_SKU, "quantity": 1} for _ in _shipping(order)]
    return sale_request(
        f"shopify:cancel:{order_id(order)}",
        outlet,
        order.get("cancelled_at") or order.get("updated_at"),
        kind="return",
        original_request_id=f"shopify:{order_id(order)}",
        lines=lines + shipping,
        tenders=[tender(order.get("total_price"), gateway_of(order), "cancelled")],
        currency=order.get("currency"),
        notes=f"Shopify order {text(order.get('name'))} cancelled: {text(order.get('cancel_reason'))}"[:500],
    )


def refund_request(refund: dict[str, Any], outlet: str) -> dict[str, Any]:
    """Refunded line items (and refunded shipping) as a return of the order. A refund with any other
    adjustment, or with nothing to return, matches no line: UNMAPPED_REFUND with its amount."""
    transactions = [t for t in _list(refund, "transactions") if _refunded(t)]
    amount = sum((number(t.get("amount")) or Decimal(0) for t in transactions), Decimal(0))
    gateway = text(transactions[0].get("gateway")) if transactions else ""
    currency = transactions[0].get("currency") if transactions else None
    request_id = f"shopify:refund:{text(refund.get('id'))}"
    original = f"shopify:{text(refund.get('order_id'))}"
    lines = [
        {"sku": _sku(r.get("line_item") or {}), "quantity": r.get("quantity")}
        for r in _list(refund, "refund_line_items")
        if number(r.get("quantity")) != 0  # a line refunded 0 times returns nothing
    ]
    adjustments = _list(refund, "order_adjustments")
    shipping = [a for a in adjustments if a.get("kind") == "shipping_refund"] + _list(refund, "refund_shipping_lines")
    others = [a for a in adjustments if a.get("kind") != "shipping_refund"]
    occurred_at = refund.get("created_at")
    extra = {"currency": currency} if currency else {}
    if amount == 0:
        what = "returns goods but refunds 0" if lines else "refunds nothing (no line, or quantity 0, and amount 0)"
        why = f"Shopify refund {text(refund.get('id'))} of {original} {what}: not posted as a return; handle by hand"
        return not_mapped(request_id, outlet, occurred_at, why, kind="return", original_request_id=original, **extra)
    if others or not (lines or shipping):
        return unmapped_refund(request_id, original, outlet, occurred_at, plain(amount), gateway=gateway, **extra)
    return sale_request(
        request_id,
        outlet,
        occurred_at,
        kind="return",
        original_request_id=original,
        lines=lines + ([{"sku": SHIPPING_SKU, "quantity": 1}] if shipping else []),
        tenders=[tender(plain(amount), gateway, "refund")],
        notes=text(refund.get("note"))[:500] or None,
        **extra,
    )


def customer_email(order: dict[str, Any]) -> str | None:
    """The order's e-mail (order.email, else customer.email), as matched against customers."""
    customer = order.get("customer")
    return email_of(order.get("email")) or (email_of(customer.get("email")) if isinstance(customer, dict) else None)


def _refunded(transaction: Any) -> bool:
    return (
        isinstance(transaction, dict)
        and transaction.get("kind") == "refund"
        and transaction.get("status") in ("success", None)
    )


def _line(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "sku": _sku(item),
        "quantity": item.get("quantity"),
        "unit_price": item.get("price"),
        "discount": _discount(item),
    }


def _sku(item: dict[str, Any]) -> Any:
    sku = item.get("sku")
    return "" if sku is None else sku  # an empty SKU stays empty: the worker rejects it (INVALID)


def _discount(item: dict[str, Any]) -> Any:
    """Discounts allocated to the line (order-level codes included), else its total_discount."""
    allocations = _list(item, "discount_allocations")
    if allocations:
        amounts = [number(a.get("amount")) for a in allocations]
        if any(amount is None for amount in amounts):
            return next(a.get("amount") for a, n in zip(allocations, amounts, strict=True) if n is None)
        return plain(sum((a for a in amounts if a is not None), Decimal(0)))
    given = item.get("total_discount")
    return "0" if given is None else given


def _shipping(order: dict[str, Any]) -> list[dict[str, Any]]:
    """Each charged shipping line as a SHIPPING line; free shipping adds none."""
    lines = []
    for ship in _list(order, "shipping_lines"):
        price = number(ship.get("price"))
        if price == 0:
            continue
        after = number(ship.get("discounted_price"))
        discount = plain(price - after) if price is not None and after is not None else _discount(ship)
        lines.append({"sku": SHIPPING_SKU, "quantity": 1, "unit_price": ship.get("price"), "discount": discount})
    return lines


def _list(obj: dict[str, Any], key: str) -> list[dict[str, Any]]:
    found = obj.get(key)
    return [x for x in found if isinstance(x, dict)] if isinstance(found, list) else []
