"""`tillpost web import FILE --platform shopify|woocommerce`: catch up on web orders from an
exported list (the platforms' REST list format) through the same adapters as the webhooks.

Idempotent: a request_id the ledger already recorded for the web outlet's company (any outcome) is
not submitted again, so a second run changes nothing. A rejected one is posted again with
`tillpost replay`, once its cause is mended.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from frontends.cli.common import BadInput, command_settings, database, json_option, read_file, wait_options
from frontends.output import emit_json, table
from frontends.web import Delivery, shopify_delivery, with_customer, woocommerce_delivery

IMPORTED_COLUMNS = ("request_id", "outcome", "reason", "total", "message")


@click.group("web")
def web() -> None:
    """Web-shop orders (Shopify, WooCommerce)."""


@web.command("import")
@click.argument("file")
@click.option("--platform", type=click.Choice(["shopify", "woocommerce"]), required=True)
@wait_options("wait until every new request has an outcome")
@json_option
def import_orders(file: str, platform: str, wait: bool, timeout: float, as_json: bool) -> int:
    """Record every order (and refund) of an exported list once; already recorded ones are skipped."""
    from frontends.ledger import Ledger
    from services.intake import customer_by_email

    outlet = command_settings().web_outlet
    ledger = Ledger(database())
    deliveries = [
        with_customer(
            _deliver(platform, topic, item, outlet), lambda email: customer_by_email(ledger.db, outlet, email)
        )
        for topic, item in _items(platform, _read(file))
    ]
    new, known = _new_requests(ledger, [r for d in deliveries for r in d.requests], outlet)
    for delivery in deliveries:
        print(delivery.note, file=sys.stderr)
    intake_ids = ledger.submit(new) if new else []
    print(f"{len(new)} new request(s) recorded, {known} already recorded (skipped)", file=sys.stderr)
    finished = ledger.wait(intake_ids, timeout=timeout) if wait and intake_ids else True
    documents = ledger.outcomes(intake_ids)
    emit_json(documents) if as_json else table(documents, IMPORTED_COLUMNS)
    if not finished:
        print(f"timed out after {timeout:g} s; the requests keep posting", file=sys.stderr)
        return 1
    return 0


def _read(path: str) -> Any:
    from domain.posting.request import decode

    try:
        return decode(read_file(path))
    except ValueError as exc:
        raise BadInput(f"{path}: not valid JSON: {exc}") from None


def _items(platform: str, data: Any) -> list[tuple[str, Any]]:
    """(topic, payload) pairs as the webhooks would have delivered them."""
    if isinstance(data, dict):
        data = data.get("orders", [data["order"]] if "order" in data else [data])
    if not isinstance(data, list):
        raise BadInput(f"expected a JSON list of {platform} orders")
    if platform == "woocommerce":
        return [("order.updated", order) for order in data]
    items: list[tuple[str, Any]] = []
    for order in data:
        items.append(("orders/create", order))
        if isinstance(order, dict):
            items += [("refunds/create", refund) for refund in order.get("refunds") or [] if isinstance(refund, dict)]
            if order.get("cancelled_at"):
                items.append(("orders/cancelled", order))
    return items


def _deliver(platform: str, topic: str, payload: Any, outlet: str) -> Delivery:
    adapter = shopify_delivery if platform == "shopify" else woocommerce_delivery
    return adapter(topic, payload, outlet)


def _new_requests(ledger: Any, requests: list[dict[str, Any]], outlet: str) -> tuple[list[dict[str, Any]], int]:
    """The requests whose request_id the web outlet's company has not recorded yet (first of each)."""
    from domain.errors import NotFound
    from services import intake, lookups

    company = intake.company_of_outlet(ledger.db, outlet)
    if company is None:
        raise BadInput(f"the web outlet {outlet!r} (TILLPOST_WEB_OUTLET) is not in the master data: import it first")
    new: dict[str, dict[str, Any]] = {}
    for request in requests:
        request_id = request["request_id"]
        if request_id in new:
            continue
        try:
            lookups.sale_show(ledger.db, request_id, company)
        except NotFound:
            new[request_id] = request
    return list(new.values()), len(requests) - len(new)


COMMANDS = (web,)
