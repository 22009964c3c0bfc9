"""The password Flower asks for: TILLPOST_FLOWER_AUTH (`user:password`), or one generated on first use.

The generated one lives in TILLPOST_HOME/flower-auth, created with mode 0600 in the same call that
creates the file (O_CREAT|O_EXCL), so no other user can read it, not even for a moment. Flower reads it
in its own process (runtime/flower_config.py), so the password is on no command line and in no
environment that `ps` or a child process could show.
"""

from __future__ import annotations

import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from runtime.settings import Settings

FILE_NAME = "flower-auth"
GENERATED_USER = "tillpost"
FLOWER_CONFIG_FILE = Path(__file__).with_name("flower_config.py")  # Flower's --conf


class FlowerAuthError(Exception):
    """Flower cannot be started locked with a password only its owner knows (bad input, exit status 2)."""


class FlowerAuthMalformed(FlowerAuthError):
    """The password setting is not `user:password` with both parts given."""

    def __init__(self, where: str) -> None:
        super().__init__(f"{where} must be `user:password` (both parts non-empty)")
        self.where = where


class FlowerAuthExposed(FlowerAuthError):
    """The stored password file belongs to another user or others may read or write it."""

    def __init__(self, path: Path, mode: int) -> None:
        super().__init__(
            f"{path} is not private to you (mode {mode:04o}): delete it and a new password is generated"
            " on the next `tillpost up`, or `chmod 600` it if nobody else could have read it"
        )
        self.path = path
        self.mode = mode


class FlowerTooOld(FlowerAuthError):
    """The installed Flower does not refuse cross-origin POSTs, so a web page could ride the password."""

    def __init__(self, version: str) -> None:
        super().__init__(f"Flower {version} lets other web pages post to its API: install flower>=2.2")
        self.version = version


@dataclass(frozen=True)
class FlowerCredential:
    user_password: str  # as Flower's basic_auth option takes it
    stored_in: Path | None  # None: it comes from TILLPOST_FLOWER_AUTH

    def where(self) -> str:
        """Where a person finds the password (never the password itself)."""
        return f"the user:password in {self.stored_in}" if self.stored_in else "TILLPOST_FLOWER_AUTH"


def credential(config: Settings) -> FlowerCredential:
    """The configured credential, or the stored one (generated the first time)."""
    if config.flower_auth is not None:
        return FlowerCredential(_checked(config.flower_auth, "TILLPOST_FLOWER_AUTH"), None)
    path = config.home / FILE_NAME
    _generate_once(path)
    return FlowerCredential(_read_private(path), path)


def require_cross_origin_refusal() -> None:
    """Run only a Flower that refuses a POST from another origin even with the password (Flower 2.2 on).

    A browser sends the basic-auth password it remembers with any request to Flower, including a form
    posted by another site; Flower 2.2 refuses those (Origin / Sec-Fetch-Site check), older ones run them.
    """
    import flower
    from flower import urls, views

    if not (urls.settings.get("xsrf_cookies") and "check_xsrf_cookie" in vars(views.BaseHandler)):
        raise FlowerTooOld(flower.__version__)


def _generate_once(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w") as stored:
        stored.write(f"{GENERATED_USER}:{secrets.token_urlsafe(32)}\n")


def _read_private(path: Path) -> str:
    info = path.stat()
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077 or info.st_uid != os.getuid():
        raise FlowerAuthExposed(path, mode)
    return _checked(path.read_text(), str(path))


def _checked(value: str, where: str) -> str:
    user, colon, password = value.strip().partition(":")
    if not (user and colon and password.strip()):
        raise FlowerAuthMalformed(where)
    return value.strip()
