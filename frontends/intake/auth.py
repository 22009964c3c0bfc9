"""Who may call the intake: API keys (TILLPOST_INTAKE_KEYS) and the web shops' webhook signatures.

Every comparison is constant-time (hmac.compare_digest), and every key is compared, so the time an
answer takes says nothing about how close a guess was. A key bound to a company ("KEY:COMPANY")
posts only to that company's outlets and reads only its sales; a key with no company is the
installation's own key and may post and read for every company.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from frontends.intake.refusals import Unauthenticated

bearer = HTTPBearer(auto_error=False, description="a key of TILLPOST_INTAKE_KEYS")


@dataclass(frozen=True)
class Caller:
    company: str | None  # None: the installation's key, every company


def caller(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Caller:
    """The caller of a Bearer key, or 401 for a missing or unknown key."""
    keys: dict[str, str | None] = request.app.state.settings.intake_key_companies
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Unauthenticated()
    given = credentials.credentials.encode()
    found: str | None = None
    matched = False
    for key, company in keys.items():
        if hmac.compare_digest(key.encode(), given):  # no early exit: every key is compared
            matched, found = True, company
    if not matched:
        raise Unauthenticated()
    return Caller(found)


CallerOf = Annotated[Caller, Depends(caller)]  # a route's parameter: the caller of its Bearer key


def signature_of(secret: str, body: bytes) -> str:
    """Base64 HMAC-SHA256 of the raw body: what Shopify and WooCommerce send."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def require_signature(secret: str | None, body: bytes, given: str | None) -> None:
    """401 unless `given` is the body's signature. An unset secret refuses every delivery, and a
    delivery without its signature header is never accepted."""
    if not secret or not given:
        raise Unauthenticated()
    if not hmac.compare_digest(signature_of(secret, body).encode(), given.strip().encode()):
        raise Unauthenticated()
