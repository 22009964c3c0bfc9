"""PostgreSQL or the broker cannot be reached: one named error, and which exceptions mean it.

The command line prints the error as one line and exits 3 (../shared/CLI.md); the URL is shown
without its password, with what to do about it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from domain.errors import TillpostError, TransientError
from runtime.settings import Settings, redacted

SERVICES = {
    "database": ("PostgreSQL", "TILLPOST_DATABASE_URL"),
    "broker": ("the broker (Redis)", "TILLPOST_BROKER_URL"),
}
# Connection trouble that is the server's, not the request's: connection classes (08), the server
# shutting down or starting (57P01-57P03), no connection slot left (53300).
UNREACHABLE_SQLSTATES = {"57P01", "57P02", "57P03", "53300"}


class ServiceUnavailable(TillpostError):
    """PostgreSQL or the broker could not be reached (exit status 3)."""

    def __init__(self, service: str, url: str, embedded: bool, refused: str | None = None) -> None:
        self.service, self.url, self.embedded = service, redacted(url), embedded
        name, variable = SERVICES[service]
        if refused is not None:  # the server answered: it is up, the URL's user, password or name is wrong
            super().__init__(f"{name} at {self.url} refused the connection ({refused}): fix {variable}")
            return
        todo = f"run `tillpost services start` or set {variable}" if embedded else f"start it or set {variable}"
        super().__init__(f"cannot reach {name} at {self.url}: {todo}")

    @classmethod
    def of(cls, service: str, config: Settings, cause: BaseException | None = None) -> ServiceUnavailable:
        refused = refusal(cause) if cause is not None else None
        if service == "database":
            embedded = config.database_url == config.embedded_database_url
            return cls(service, config.database_url, embedded, refused)
        return cls(service, config.broker_url, config.broker_url == config.embedded_broker_url)


def refusal(exc: BaseException) -> str | None:
    """What PostgreSQL said when it answered but refused the connection (no such database, a wrong
    password or user), in its own words; None when it did not answer at all."""
    for error in _chain(exc):
        text = str(error)
        if "FATAL:" in text:
            return " ".join(text.partition("FATAL:")[2].splitlines()[0].split())
    return None


class NotSent(ServiceUnavailable):
    """Requests were recorded in PostgreSQL but could not be handed to the broker: the sweeper sends them."""

    def __init__(self, recorded: str, cause: ServiceUnavailable) -> None:
        """`recorded` says what is safe: "the 3 request(s)", "batch 7 (120 requests)"."""
        self.recorded = recorded
        TillpostError.__init__(
            self,
            f"{cause}; {recorded} recorded in PostgreSQL: safe, the sweeper sends it once the broker answers",
        )
        self.service, self.url, self.embedded = cause.service, cause.url, cause.embedded


def service_behind(exc: BaseException) -> str | None:
    """The service ("database" or "broker") that `exc`, or what caused it, says cannot be reached."""
    for error in _chain(exc):
        if _database_unreachable(error):
            return "database"
        if _broker_unreachable(error):
            return "broker"
    return None


# What PostgreSQL says of a table, or a column, the statement names and the database lacks.
UNDEFINED = {"42P01": "table", "42703": "column"}


def schema_missing(exc: BaseException) -> str | None:
    """What `exc` (or its cause) says the database lacks, such as 'table "batches"'; None when it
    says nothing of the kind."""
    import psycopg

    for error in _chain(exc):
        if isinstance(error, psycopg.errors.ProgrammingError) and error.sqlstate in UNDEFINED:
            message = error.diag.message_primary or ""  # 'column "x" does not exist', 'column b.x does not exist'
            words = message.split()
            named = message.split('"')[1] if message.count('"') >= 2 else words[1] if len(words) > 1 else "?"
            return f'{UNDEFINED[error.sqlstate]} "{named}"'
    return None


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _database_unreachable(error: BaseException) -> bool:
    import psycopg
    from sqlalchemy.exc import DBAPIError

    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, TransientError):
        return False  # judged by its cause, further down the chain
    if isinstance(error, psycopg.OperationalError):
        code = error.sqlstate
        return code is None or code.startswith("08") or code in UNREACHABLE_SQLSTATES
    return False


def _broker_unreachable(error: BaseException) -> bool:
    import kombu.exceptions
    import redis.exceptions

    return isinstance(error, kombu.exceptions.OperationalError | redis.exceptions.ConnectionError)


@contextmanager
def sending(what: str) -> Iterator[None]:
    """Around sending what was just committed: a broker that cannot be reached becomes NotSent,
    saying `what` ("the 3 request(s)", "batch 7 of day.csv") is recorded and safe."""
    from runtime import settings

    try:
        yield
    except Exception as exc:
        if service_behind(exc) != "broker":
            raise
        raise NotSent(what, ServiceUnavailable.of("broker", settings.load())) from None
