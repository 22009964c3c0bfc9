"""WooCommerce orders and refunds as sale requests (README "Web orders").

request_ids: "woocommerce:ORDER_ID" (the sale), "woocommerce:refund:REFUND_ID". WooCommerce has no
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

from frontends.web.common import SHIPPING_SKU, number, plain, sale_request, tender, text, unmapped_refund

SECURED = ("processing", "completed")  # status once payment is secured
ORDER_TOPICS = ("order.created", "order.updated")
_UP_LINK = re.compile(r"/orders/(\d+)")


def order_request(order: dict[str, Any], outlet: str) -> dict[str, Any]:
    included = order.get("prices_include_tax")
    lines = [_line(item, included is True) for item in _list(order, "line_items")]
    shipping = [_shipping(ship, included is True) for ship in _list(order, "shipping_lines")]
    reference = text(order.get("transaction_id"))
    return sale_request(
        f"woocommerce:{text(order.get('id'))}",
        outlet,
        occurred_at(order),
        lines=lines + [s for s in shipping if s is not None],
        tenders=[tender(order.get("total"), text(order.get("payment_method")), reference)],
        currency=order.get("currency"),
        prices_include_gst=included,
        notes=f"WooCommerce order {text(order.get('number'))}".strip()[:500],
    )


def refund_requests(order: dict[str, Any], outlet: str) -> list[dict[str, Any]]:
    """Each refund listed on an order (id and amount only): UNMAPPED_REFUND with its amount."""
    when = occurred_at(order, "date_modified")
    original = f"woocommerce:{text(order.get('id'))}"
    extra = {"currency": order["currency"]} if order.get("currency") else {}
    return [
        unmapped_refund(f"woocommerce:refund:{text(r.get('id'))}", original, outlet, when, r.get("total"), **extra)
        for r in _list(order, "refunds")
    ]


def refund_object_request(refund: dict[str, Any], outlet: str) -> dict[str, Any]:
    """A refund object: its line_items returned; amount-only (no line_items): UNMAPPED_REFUND."""
    original = f"woocommerce:{_order_of(refund)}"
    request_id = f"woocommerce:refund:{text(refund.get('id'))}"
    lines = [{"sku": _sku(item), "quantity": _positive(item.get("quantity"))} for item in _list(refund, "line_items")]
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


def _shipping(ship: dict[str, Any], included: bool) -> dict[str, Any] | None:
    total = _figure(ship, "total", included)
    if total == 0:
        return None
    return {"sku": SHIPPING_SKU, "quantity": 1, "unit_price": plain(total) if total is not None else ship.get("total")}


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
