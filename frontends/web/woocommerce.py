"""WooCommerce orders and refunds as sale requests (README "Web orders").

request_ids: "woocommerce:ORDER_ID" (the sale), "woocommerce:refund:REFUND_ID", "woocommerce:cancel:ORDER_ID"
(a full return of a paid order cancelled afterwards). WooCommerce has no
refund topic: refunds arrive as order.updated with a `refunds` list of ids and amounts only, so each
is an UNMAPPED_REFUND (rejected with its amount, for a person). A refund object (the REST
/orders/ID/refunds answer) with line_items is a return of those lines.

Line figures: WooCommerce's line `subtotal` (before coupons) and `total` (after) exclude tax; for a
shop whose prices include tax, the line's tax is added back so the unit price is the shelf price.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from frontends.web.common import (
    FEE_SKU,
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

SECURED = ("processing", "completed")  # status once payment is secured
ORDER_TOPICS = ("order.created", "order.updated")
_UP_LINK = re.compile(r"/orders/(\d+)")


def order_request(order: dict[str, Any], outlet: str) -> dict[str, Any]:
    """The sale: its lines (coupons as per-line discounts), shipping as a SHIPPING line, each positive
    fee as a WEB-FEE line, one tender of total. A negative fee is a discount on the whole order that
    the ledger cannot place on a line: the order is REJECTED (INVALID) naming it, never spread by guess."""
    included = order.get("prices_include_tax")
    request_id = f"woocommerce:{text(order.get('id'))}"
    lines = [_line(item, included is True) for item in _list(order, "line_items")]
    shipping = [_shipping(ship, included is True) for ship in _list(order, "shipping_lines")]
    fees = [_shipping(fee, included is True, FEE_SKU) for fee in _list(order, "fee_lines")]
    negative = [f for f in _list(order, "fee_lines") if (_figure(f, "total", included is True) or 0) < 0]
    if negative:
        named = ", ".join(f"{text(f.get('name')) or 'a fee'} {text(f.get('total'))}" for f in negative)
        why = (
            f"WooCommerce order {text(order.get('id'))} has a negative fee ({named}): a discount on the whole order "
            "that the ledger cannot place on a line; handle it by hand"
        )
        return not_mapped(request_id, outlet, occurred_at(order), why, currency=order.get("currency"))
    reference = text(order.get("transaction_id"))
    return sale_request(
        request_id,
        outlet,
        occurred_at(order),
        lines=lines + [s for s in shipping + fees if s is not None],
        tenders=[tender(order.get("total"), text(order.get("payment_method")), reference)],
        currency=order.get("currency"),
        prices_include_gst=included,
        notes=f"WooCommerce order {text(order.get('number'))}".strip()[:500],
    )


def cancel_request(order: dict[str, Any], outlet: str) -> dict[str, Any]:
    """A full return of a cancelled order that was paid: every line, shipping and fee, refunding its
    total (the tender rules decide when the ledger's total differs)."""
    included = order.get("prices_include_tax") is True
    order_id = text(order.get("id"))
    lines = [
        {"sku": _sku(item), "quantity": item.get("quantity")}
        for item in _list(order, "line_items")
        if number(item.get("quantity")) != 0
    ]
    shipping = [{"sku": SHIPPING_SKU, "quantity": 1} for s in _list(order, "shipping_lines") if _charged(s, included)]
    fees = [{"sku": FEE_SKU, "quantity": 1} for f in _list(order, "fee_lines") if _charged(f, included)]
    return sale_request(
        f"woocommerce:cancel:{order_id}",
        outlet,
        occurred_at(order, "date_modified"),
        kind="return",
        original_request_id=f"woocommerce:{order_id}",
        lines=lines + shipping + fees,
        tenders=[tender(order.get("total"), text(order.get("payment_method")), "cancelled")],
        currency=order.get("currency"),
        notes=f"WooCommerce order {text(order.get('number'))} cancelled"[:500],
    )


def was_paid(order: dict[str, Any]) -> bool:
    """Whether the order was ever paid (WooCommerce keeps date_paid once set): a cancelled paid order
    was posted (processing or completed came first) and is returned; one never paid was never posted."""
    return bool(order.get("date_paid_gmt") or order.get("date_paid"))


def customer_email(order: dict[str, Any]) -> str | None:
    billing = order.get("billing")
    return email_of(billing.get("email")) if isinstance(billing, dict) else None


def refund_requests(order: dict[str, Any], outlet: str) -> list[dict[str, Any]]:
    """Each refund listed on an order (id and amount only): UNMAPPED_REFUND with its amount."""
    when = occurred_at(order, "date_modified")
    original = f"woocommerce:{text(order.get('id'))}"
    extra = {"currency": order["currency"]} if order.get("currency") else {}
    return [
        _zero_refund(r, original, outlet, when, **extra)
        if number(r.get("total")) == 0
        else unmapped_refund(f"woocommerce:refund:{text(r.get('id'))}", original, outlet, when, r.get("total"), **extra)
        for r in _list(order, "refunds")
    ]


def _zero_refund(refund: dict[str, Any], original: str, outlet: str, when: Any, **extra: Any) -> dict[str, Any]:
    why = (
        f"WooCommerce refund {text(refund.get('id'))} of {original} refunds nothing (amount 0): not posted as a return"
    )
    request_id = f"woocommerce:refund:{text(refund.get('id'))}"
    return not_mapped(request_id, outlet, when, why, kind="return", original_request_id=original, **extra)


def refund_object_request(refund: dict[str, Any], outlet: str) -> dict[str, Any]:
    """A refund object: its line_items returned; amount-only (no line_items): UNMAPPED_REFUND."""
    original = f"woocommerce:{_order_of(refund)}"
    request_id = f"woocommerce:refund:{text(refund.get('id'))}"
    lines = [
        {"sku": _sku(item), "quantity": _positive(item.get("quantity"))}
        for item in _list(refund, "line_items")
        if number(item.get("quantity")) != 0  # a line refunded 0 times returns nothing
    ]
    if number(refund.get("amount")) == 0:
        return _zero_refund(refund, original, outlet, occurred_at(refund))
    if not lines:
        return unmapped_refund(request_id, original, outlet, occurred_at(refund), refund.get("amount"))
    return sale_request(
        request_id,
        outlet,
        occurred_at(refund),
        kind="return",
        original_request_id=original,
        lines=lines,
        tenders=[tender(refund.get("amount"), "", "refund")],
        notes=text(refund.get("reason"))[:500] or None,
    )


def is_refund_object(payload: dict[str, Any]) -> bool:
    return "amount" in payload and "refunded_by" in payload and "status" not in payload


def occurred_at(obj: dict[str, Any], field: str = "date_created") -> Any:
    """The `_gmt` time is UTC without an offset: given one. The local time has none and no zone."""
    gmt = obj.get(f"{field}_gmt")
    if isinstance(gmt, str) and gmt and not gmt.endswith(("Z", "z")) and "+" not in gmt[10:]:
        return gmt + "+00:00"
    return gmt or obj.get(field)


def _line(item: dict[str, Any], included: bool) -> dict[str, Any]:
    quantity = number(item.get("quantity"))
    before, after = _figure(item, "subtotal", included), _figure(item, "total", included)
    if not quantity or before is None or after is None:  # passed on as given: INVALID, naming the field
        return {"sku": _sku(item), "quantity": item.get("quantity"), "unit_price": item.get("subtotal")}
    unit = before / quantity
    unit = unit if -unit.as_tuple().exponent <= 4 else unit.quantize(Decimal("0.0001"))  # type: ignore[operator]
    return {
        "sku": _sku(item),
        "quantity": item.get("quantity"),
        "unit_price": plain(unit),
        "discount": plain(before - after),
    }


def _shipping(ship: dict[str, Any], included: bool, sku: str = SHIPPING_SKU) -> dict[str, Any] | None:
    """A shipping (or fee) line charged: a line of `sku`; nothing when it is free."""
    total = _figure(ship, "total", included)
    if total == 0:
        return None
    return {"sku": sku, "quantity": 1, "unit_price": plain(total) if total is not None else ship.get("total")}


def _charged(line: dict[str, Any], included: bool) -> bool:
    return (_figure(line, "total", included) or 0) > 0


def _figure(item: dict[str, Any], field: str, included: bool) -> Decimal | None:
    value = number(item.get(field))
    tax_field = "subtotal_tax" if field == "subtotal" else "total_tax"
    tax = number(item.get(tax_field)) if included else Decimal(0)
    return None if value is None or tax is None else value + tax


def _sku(item: dict[str, Any]) -> Any:
    sku = item.get("sku")
    return "" if sku is None else sku  # an empty SKU stays empty: the worker rejects it (INVALID)


def _positive(value: Any) -> Any:
    found = number(value)
    return plain(abs(found)) if found is not None else value  # refund line quantities are negative


def _order_of(refund: dict[str, Any]) -> str:
    links = refund.get("_links")
    links = links if isinstance(links, dict) else {}
    for link in [*(links.get("up") or []), *(links.get("collection") or [])]:
        found = _UP_LINK.search(text(link.get("href")) if isinstance(link, dict) else "")
        if found:
            return found.group(1)
    return text(refund.get("order_id"))


def _list(obj: dict[str, Any], key: str) -> list[dict[str, Any]]:
    found = obj.get(key)
    return [x for x in found if isinstance(x, dict)] if isinstance(found, list) else []
