"""Schema-driven fuzzing of the HTTP intake (schemathesis) against its own /openapi.json, on a real
uvicorn server on loopback: cases generated from the spec (valid and invalid), each sent with a valid
key and, for the webhooks, signed by a hook, so they reach the handlers. None may be a server error,
and every status must be one the spec documents."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import schemathesis  # a dev extra (pyproject.toml)
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core import NotSet
from schemathesis.hooks import GLOBAL_HOOK_DISPATCHER
from schemathesis.specs.openapi.checks import status_code_conformance

from frontends.intake.auth import signature_of
from tests.intake_support import KEY, SHOPIFY_SECRET, WOO_SECRET, bearer
from tests.shop import make_shop

CASES_PER_OPERATION = 60  # bounded: the whole run stays well under a minute on a small machine
SOME_TIME = "2025-03-01T10:15:00+08:00"
AT_THE_DOOR = (401, 413)  # refused before any handler ran
WEBHOOKS = {
    "/v1/webhooks/shopify": (
        SHOPIFY_SECRET,
        "X-Shopify-Hmac-Sha256",
        "X-Shopify-Topic",
        ("orders/create", "orders/paid", "orders/cancelled", "refunds/create", "app/uninstalled"),
    ),
    "/v1/webhooks/woocommerce": (
        WOO_SECRET,
        "X-WC-Webhook-Signature",
        "X-WC-Webhook-Topic",
        ("order.created", "order.updated", "product.updated"),
    ),
}


def sign_webhook_bodies(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    """schemathesis's before_call hook: every case carries the valid key; a webhook case's body is sent
    as bytes, signed with its secret, under a topic the body picks (so the adapters see every topic
    they handle). A valid sale request is made to keep the rules its JSON schema cannot say (a sale
    time a till could have written, a cashier for channel pos, no original for a sale), so it can
    reach the ledger."""
    case.headers = {**(case.headers or {}), **bearer(KEY)}
    body = case.body
    if case.operation.path == "/v1/sales" and isinstance(body, dict) and valid(case):
        body["occurred_at"] = SOME_TIME
        if body.get("channel", "pos") == "pos":
            body.setdefault("cashier", "amy")
        if body.get("kind", "sale") == "sale":
            body.pop("original_request_id", None)
    if case.operation.path not in WEBHOOKS:
        return
    secret, signature, topic_header, topics = WEBHOOKS[case.operation.path]
    raw = b"" if isinstance(body, NotSet) else json.dumps(body, default=str).encode()
    kwargs["data"] = raw
    case.headers = {
        **case.headers,
        signature: signature_of(secret, raw),
        topic_header: topics[len(raw) % len(topics)],
        "Content-Type": "application/json",
    }


def valid(case: Any) -> bool:
    return case.meta is not None and case.meta.generation.mode == schemathesis.GenerationMode.POSITIVE


@contextmanager
def before_call(hook: Any) -> Iterator[None]:
    """Register a global schemathesis hook for the block only (Case.call reads global hooks)."""
    GLOBAL_HOOK_DISPATCHER.register_hook_with_name(hook, "before_call")
    try:
        yield
    finally:
        GLOBAL_HOOK_DISPATCHER.unregister(hook)


def fuzz(operation: Any, base: str, seen: Counter[int], mode: Any, cases: int) -> None:
    """A bounded run of generated cases (valid or invalid: `mode`) against one operation; statuses counted."""

    @settings(
        max_examples=cases,
        deadline=None,
        database=None,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(mode))
    def call(case: Any) -> None:
        response = case.call(base_url=base, timeout=10)
        seen[response.status_code] += 1
        # Then no case is a server error, and every status is one the spec documents
        case.validate_response(response, checks=[not_a_server_error, status_code_conformance])

    call()


def test_fuzzing_the_intake_from_its_own_spec_finds_no_server_error(sessions: Any, intake: httpx.Client) -> None:
    # Given an intake with a shop behind it, and its own spec
    with sessions.begin() as s:
        make_shop(s)
    base = str(intake.base_url).rstrip("/")
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/v1/sales", "/v1/sales/{request_id}", *WEBHOOKS}
    statuses: dict[str, Counter[int]] = {}

    # When each operation gets its bounded share of generated cases, valid and invalid, with a valid key
    with before_call(sign_webhook_bodies):
        for operation in operations:
            seen = statuses.setdefault(operation.label, Counter())
            fuzz(operation, base, seen, schemathesis.GenerationMode.POSITIVE, CASES_PER_OPERATION)
            if len(operation.body) or len(operation.path_parameters):  # something to make invalid
                fuzz(operation, base, seen, schemathesis.GenerationMode.NEGATIVE, CASES_PER_OPERATION // 2)

    # And the cases were not refused at the door: a real share of them reached the handlers
    total = {label: sum(seen.values()) for label, seen in statuses.items()}
    reached = {
        label: sum(n for status, n in seen.items() if status not in AT_THE_DOOR) for label, seen in statuses.items()
    }
    for label, seen in sorted(statuses.items()):  # for the note
        print(f"{label}: {total[label]} cases, {reached[label]} reached the handler; {dict(sorted(seen.items()))}")
    print(f"all: {sum(total.values())} cases, {sum(reached.values())} reached a handler")
    for label in ("POST /v1/sales", "POST /v1/webhooks/shopify", "POST /v1/webhooks/woocommerce"):
        assert reached[label] >= total[label] // 2 > 0, (label, statuses[label])
        assert statuses[label][202] > 0, (label, statuses[label])  # some were accepted, not all refused
