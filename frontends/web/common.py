"""What the Shopify and WooCommerce adapters share: reading the shop's figures, the documented
tables (gateways, the shipping SKU) and building wire-format requests (../shared/DOMAIN.md).

The adapters never fix a figure: a value that is not a number is passed on as given, so the worker
rejects the request as INVALID naming the field, rather than the adapter guessing or raising.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal, InvalidOperation
from typing import Any

from domain.batches.entries import is_storable
from domain.posting.request import NOT_MAPPED_SKU, UNMAPPED_REFUND_SKU

# Shipping is posted as a line of this SKU. The shop imports it as a product with
# track_inventory=false (no stock), its GST rate the rate the company charges on delivery.
SHIPPING_SKU = "SHIPPING"
# A positive fee of a WooCommerce order (fee_lines: gift wrap, a payment surcharge) is posted as a
# line of this SKU, imported like SHIPPING (track_inventory=false, the GST rate charged on fees).
FEE_SKU = "WEB-FEE"

# The ledger's tender method for a shop's payment gateway (lower case; Shopify's gateway names,
# WooCommerce's payment_method ids). The gateway's name is always kept as the tender's reference.
# A gateway not listed is CARD: what a web shop takes online is almost always a card.
GATEWAYS = {
    "shopify_payments": "CARD",
    "stripe": "CARD",
    "woocommerce_payments": "CARD",
    "authorize_net": "CARD",
    "paypal": "CARD",
    "ppcp-gateway": "CARD",
    "bogus": "CARD",  # Shopify's test gateway
    "cash": "CASH",
    "cod": "CASH",  # cash on delivery (cash rounding to 0.05 applies, as at a till)
    "cash on delivery (cod)": "CASH",
    "gift_card": "VOUCHER",
    "paynow": "PAYNOW",
    "hitpay": "PAYNOW",
    "bacs": "PAYNOW",  # direct bank transfer: in Singapore it arrives by PayNow / FAST
    "bank_deposit": "PAYNOW",
    "bank deposit": "PAYNOW",
}
DEFAULT_METHOD = "CARD"


def method_of(gateway: str) -> str:
    return GATEWAYS.get(gateway.strip().lower(), DEFAULT_METHOD)


def number(value: Any) -> Decimal | None:
    """A shop's figure ("199.00", 3, 2.5) as an exact Decimal, or None when it is not a number."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        found = Decimal(str(value)) if isinstance(value, (str, int, float, Decimal)) else None
    except (InvalidOperation, ValueError):
        return None
    return found if found is not None and found.is_finite() else None


def text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def plain(value: Decimal) -> str:
    """A Decimal as wire text, exactly (never rounded: too many places is the worker's INVALID)."""
    return format(value, "f")


def tender(amount: Any, gateway: str, extra_reference: str = "") -> dict[str, Any]:
    """One tender of what the shop says was paid (or refunded), its method from GATEWAYS."""
    gateway = gateway or "unknown"
    reference = f"{gateway} {extra_reference}".strip()[:200]
    return {"method": method_of(gateway), "amount": amount, "reference": reference}


def sale_request(request_id: str, outlet: str, occurred_at: Any, **fields: Any) -> dict[str, Any]:
    """A web sale request; `fields` adds or overrides (kind, lines, tenders, currency, ...)."""
    return {"request_id": request_id, "outlet": outlet, "channel": "web", "occurred_at": occurred_at, **fields}


def unmapped_refund(
    request_id: str, original: str, outlet: str, occurred_at: Any, amount: Any, **fields: Any
) -> dict[str, Any]:
    """A refund whose amount matches no line: a return the worker REJECTS as UNMAPPED_REFUND, naming
    the amount (a line of the reserved SKU UNMAPPED-REFUND; never posted as a guess)."""
    figure = number(amount)
    amount = plain(abs(figure)) if figure is not None else amount
    return sale_request(
        request_id,
        outlet,
        occurred_at,
        kind="return",
        original_request_id=original,
        lines=[{"sku": UNMAPPED_REFUND_SKU, "quantity": 1}],
        tenders=[tender(amount, fields.pop("gateway", ""))],
        **fields,
    )


def not_mapped(request_id: str, outlet: str, occurred_at: Any, why: str, **fields: Any) -> dict[str, Any]:
    """A web order or refund the adapter will not guess at: the worker records it REJECTED / INVALID
    with `why` as its message (a line of the reserved SKU NOT-MAPPED), never posts it."""
    return sale_request(
        request_id,
        outlet,
        occurred_at,
        lines=[{"sku": NOT_MAPPED_SKU, "quantity": 1}],
        tenders=[{"method": DEFAULT_METHOD, "amount": "0.01"}],  # never posted: only to be well formed
        notes=why[:500],
        **fields,
    )


def email_of(value: Any) -> str | None:
    """An e-mail address as matched against customers: trimmed, lower case; None when there is none."""
    found = value.strip().lower() if isinstance(value, str) else ""
    # One with a NUL or a lone surrogate is nobody's: PostgreSQL could not even compare it.
    return found if "@" in found and is_storable(found) else None


def unmappable(platform: str, payload: Any, outlet: str, why: str) -> dict[str, Any]:
    """A delivery that could not be read at all: a request with no lines, so the worker records it
    REJECTED / INVALID. Its request_id comes from its content, so a retry of it is one request."""
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]
    order_id = payload.get("id") if isinstance(payload, dict) else None
    request_id = (
        f"{platform}:{order_id}" if isinstance(order_id, (int, str)) and order_id else f"{platform}:unreadable:{digest}"
    )
    return {"request_id": request_id[:100], "outlet": outlet, "channel": "web", "notes": f"not mapped: {why}"[:500]}
