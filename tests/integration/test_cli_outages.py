"""The command line on unhappy paths: services that cannot be reached, closed pipes, odd files,
the embedded servers' life cycle, the demo's one JSON document and Celery's own worker command."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import make_url, select, text
from sqlalchemy.exc import ProgrammingError

from domain.db import make_engine
from domain.tables import FollowUp, Sale, SaleRequestRow
from frontends.outages import schema_missing
from migrations import HEAD
from migrations.schema import upgrade
from tests.batch_support import start_tillpost, tillpost, write_jsonl
from tests.intake_support import KEY, bearer, intake_env, running_intake
from tests.shop import make_shop, sale
from tests.workers import free_port, wait_until

pytestmark = pytest.mark.pipeline
ROOT = Path(__file__).resolve().parents[2]
SECRET = "sekrit-pw"
CELERY = [sys.executable, "-m", "celery", "-A", "workers.app"]


def _one_line_naming(result: subprocess.CompletedProcess[str], *words: str) -> str:
    """The command's stderr is one line, with no traceback and no password, naming every word."""
    line = result.stderr.strip()
    assert "Traceback" not in result.stderr, result.stderr
    assert len(line.splitlines()) == 1, result.stderr
    assert SECRET not in result.stderr + result.stdout
    for word in words:
        assert word in line, line
    return line


@pytest.fixture
def request_file(tmp_path: Path) -> Path:
    path = tmp_path / "sale.json"
    path.write_text(json.dumps(sale("OUT-1", [("TEA", "1")], [("CASH", "4.50")])))
    return path


# Commands that read or write the ledger, one of each kind ({file}: a request file).
LEDGER_COMMANDS = [
    ("sale", "show", "S-1"),
    ("customer", "show", "C001"),
    ("batch", "show", "1"),
    ("batch", "list"),
    ("check",),
    ("submit", "{file}"),
    ("post", "{file}"),
]


@pytest.mark.parametrize("command", [*LEDGER_COMMANDS, ("db", "upgrade")], ids=lambda c: "-".join(c[:2]))
def test_an_unreachable_database_is_named_without_its_password_and_exits_3(pipeline_env, request_file, command):
    # Given a database URL (with a password) pointing at a port where nothing listens
    port = free_port()
    env = dict(pipeline_env, TILLPOST_DATABASE_URL=f"postgresql://postgres:{SECRET}@127.0.0.1:{port}/tillpost")

    # When any command runs
    result = tillpost(env, *(part.format(file=request_file) for part in command))

    # Then one line names PostgreSQL, where it was looked for, and what to do; exit 3
    _one_line_naming(result, "PostgreSQL", f"127.0.0.1:{port}", "TILLPOST_DATABASE_URL")
    assert result.returncode == 3


@pytest.fixture
def unmigrated_url(database_url: str) -> Iterator[str]:
    """An empty database on the test server: nobody ran `tillpost db upgrade` on it."""
    name = f"tillpost_unmigrated_{uuid.uuid4().hex[:8]}"
    admin = make_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.parametrize("command", LEDGER_COMMANDS, ids=lambda c: "-".join(c[:2]))
def test_a_database_nobody_migrated_is_said_to_need_db_upgrade_and_exits_3(
    pipeline_env, unmigrated_url, request_file, command
):
    # Given a reachable database without the ledger's tables
    env = dict(pipeline_env, TILLPOST_DATABASE_URL=unmigrated_url)

    # When any command runs, it says what is missing and what to do, in one line; exit 3
    result = tillpost(env, *(part.format(file=request_file) for part in command))
    _one_line_naming(result, "not migrated", "tillpost db upgrade")
    assert result.returncode == 3

    # And once migrated, the same command gets past it
    assert tillpost(env, "db", "upgrade").returncode == 0
    assert "not migrated" not in tillpost(env, *(part.format(file=request_file) for part in command)).stderr


@pytest.mark.parametrize(
    ("statement", "missing"),
    [
        ("SELECT 1 FROM nowhere", 'table "nowhere"'),
        ("SELECT nothing FROM batches", 'column "nothing"'),
        ("SELECT b.nothing FROM batches b", 'column "b.nothing"'),  # PostgreSQL quotes no qualified name
        ("INSERT INTO batches (nothing) VALUES (1)", 'column "nothing"'),
    ],
)
def test_what_the_database_lacks_is_named_as_postgresql_names_it(database_url, statement, missing):
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn, pytest.raises(ProgrammingError) as raised:
            conn.execute(text(statement))
    finally:
        engine.dispose()
    assert schema_missing(raised.value) == missing


@pytest.fixture
def part_migrated_url(unmigrated_url: str) -> str:
    """A database migrated to 0008 only: every table and column a command reads is there, but the
    tallying triggers are older than the code that posts into it."""
    upgrade(unmigrated_url, "0008")
    return unmigrated_url


@pytest.mark.parametrize("command", LEDGER_COMMANDS, ids=lambda c: "-".join(c[:2]))
def test_a_database_migrated_part_way_is_said_to_need_db_upgrade_and_nothing_is_written(
    pipeline_env, part_migrated_url, request_file, command
):
    env = dict(pipeline_env, TILLPOST_DATABASE_URL=part_migrated_url)

    result = tillpost(env, *(part.format(file=request_file) for part in command))

    line = _one_line_naming(result, "not migrated", "0008", HEAD, "tillpost db upgrade")
    assert result.returncode == 3, line
    engine = make_engine(part_migrated_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM sale_requests")).scalar() == 0
            assert conn.execute(text("SELECT count(*) FROM batches")).scalar() == 0
    finally:
        engine.dispose()


def test_a_worker_does_not_start_on_a_database_migrated_part_way(pipeline_env, part_migrated_url):
    env = dict(pipeline_env, TILLPOST_DATABASE_URL=part_migrated_url)

    result = tillpost(env, "worker", timeout=60)  # a worker that started would run until killed

    line = _one_line_naming(result, "not migrated", "0008", HEAD, "tillpost db upgrade")
    assert result.returncode == 3, line


@pytest.mark.parametrize("migrated_to", [None, "0005"])
def test_the_intake_on_a_database_not_migrated_answers_json_naming_db_upgrade(
    pipeline_env, unmigrated_url, tmp_path, migrated_to
):
    if migrated_to is not None:
        upgrade(unmigrated_url, migrated_to)
    env = intake_env(dict(pipeline_env, TILLPOST_DATABASE_URL=unmigrated_url))
    posted = sale("S-1", [("TEA", "1")], [("CASH", "4.50")])

    with running_intake(env, tmp_path / "intake.log", ready="/openapi.json") as client:
        answers = {
            "health": client.get("/healthz"),
            "post": client.post("/v1/sales", json=posted, headers=bearer(KEY)),
            "sale": client.get("/v1/sales/S-1", headers=bearer(KEY)),
            "x": client.get("/v1/reports/x", params={"outlet": "ORCH", "date": "2025-03-01"}, headers=bearer(KEY)),
            "z": client.get("/v1/reports/z", params={"outlet": "ORCH", "date": "2025-03-01"}, headers=bearer(KEY)),
            "gst": client.get("/v1/reports/gst", params={"company": "ACME", "period": "2025Q1"}, headers=bearer(KEY)),
        }

    for route, answer in answers.items():
        assert answer.status_code == 503, (route, answer.text)
        assert answer.headers["content-type"] == "application/json", (route, answer.text)
        assert "tillpost db upgrade" in json.dumps(answer.json()), (route, answer.text)
    assert answers["health"].json()["database"] == "not migrated", answers["health"].text  # says which way
    assert "Traceback" not in (tmp_path / "intake.log").read_text()


def test_a_request_recorded_while_the_broker_is_down_is_said_to_be_safe(sessions, pipeline_env, request_file):
    # Given a shop in a reachable database, and a broker URL where nothing listens
    with sessions.begin() as s:
        make_shop(s)
    port = free_port()
    env = dict(pipeline_env, TILLPOST_BROKER_URL=f"redis://:{SECRET}@127.0.0.1:{port}/0")

    # When a sale is submitted
    result = tillpost(env, "submit", str(request_file))

    # Then the broker is named, the request is said to be safe for the sweeper, exit 3
    _one_line_naming(result, f"127.0.0.1:{port}", "TILLPOST_BROKER_URL", "safe", "sweeper")
    assert result.returncode == 3
    # And it really is recorded, waiting for the sweeper
    with sessions() as s:
        assert s.scalars(select(SaleRequestRow.outcome).where(SaleRequestRow.request_id == "OUT-1")).all() == [
            "PENDING"
        ]


def test_posting_a_batch_while_the_broker_is_down_exits_3_saying_the_batch_is_safe(sessions, pipeline_env, tmp_path):
    with sessions.begin() as s:
        make_shop(s)
    port = free_port()
    env = dict(pipeline_env, TILLPOST_BROKER_URL=f"redis://:{SECRET}@127.0.0.1:{port}/0")
    day = write_jsonl(tmp_path / "day.jsonl", [sale("B-1", [("TEA", "1")], [("CASH", "4.50")])])

    result = tillpost(env, "post", str(day))

    _one_line_naming(result, "broker", f"127.0.0.1:{port}", "TILLPOST_BROKER_URL", "batch 1", "safe", "sweeper")
    assert result.returncode == 3
    # And the batch really is staged, waiting for the sweeper
    with sessions() as s:
        assert s.scalars(select(SaleRequestRow.outcome).where(SaleRequestRow.request_id == "B-1")).all() == ["PENDING"]


@pytest.mark.parametrize(
    ("variable", "url"),
    [
        ("TILLPOST_DATABASE_URL", f"mysql://shop:{SECRET}@127.0.0.1/tillpost"),
        ("TILLPOST_DATABASE_URL", "http://127.0.0.1:5432/tillpost"),
        ("TILLPOST_BROKER_URL", f"http://shop:{SECRET}@127.0.0.1:6379/0"),
        ("TILLPOST_BROKER_URL", "amqp://127.0.0.1:5672//"),
    ],
)
def test_an_unsupported_url_scheme_is_bad_input_naming_the_variable(pipeline_env, variable, url):
    result = tillpost(dict(pipeline_env, **{variable: url}), "sale", "show", "S-1")

    _one_line_naming(result, variable, url.split(":")[0])
    assert result.returncode == 2


def _into_closed_pipe(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run a command whose stdout is a pipe nobody reads any more (as `| head -1` leaves it)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [sys.executable, "-m", "frontends.cli", *args],
            env=env,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            cwd=ROOT,
        )
    finally:
        os.close(write_end)


@pytest.mark.parametrize(
    "command",
    [
        ("batch", "list"),
        ("batch", "list", "--json"),
        ("export", "products"),
        ("stock", "show", "--outlet", "ORCH", "--json"),
        ("customer", "show", "C001"),
    ],
    ids=" ".join,
)
def test_a_command_piped_into_a_reader_that_went_away_ends_quietly(sessions, pipeline_env, command):
    with sessions.begin() as s:
        make_shop(s, stock={"TEA": 5})

    result = _into_closed_pipe(pipeline_env, *command)

    assert result.stderr == ""
    assert result.returncode == 141  # as a shell reports a tool stopped by SIGPIPE


def test_a_real_pipe_into_head_prints_one_line_and_no_error(sessions, pipeline_env):
    # Given more products than a pipe holds
    with sessions.begin() as s:
        make_shop(s, products={f"SKU-{n:05d}": {"price": Decimal("1.00")} for n in range(3000)})

    # When the export is piped into `head -1`
    result = subprocess.run(
        f"{sys.executable} -m frontends.cli export products | head -1",
        shell=True,
        env=pipeline_env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )

    # Then head prints the header and tillpost says nothing
    assert result.stdout.startswith("company,sku,")
    assert result.stderr == ""


def _without_root_privileges() -> list[str]:
    """Root reads any file; drop that power so an unreadable file is unreadable to the command."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: no file is unreadable")
    return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"]


@pytest.mark.parametrize(
    ("command", "kind"),
    [
        (("import", "products"), "directory"),
        (("submit",), "directory"),
        (("import", "products"), "unreadable"),
        (("submit",), "unreadable"),
    ],
    ids=lambda v: v if isinstance(v, str) else "-".join(v),
)
def test_a_directory_or_unreadable_file_is_bad_input(sessions, pipeline_env, tmp_path, command, kind):
    # Given a folder, or a file its user may not read, where a file is expected
    target = tmp_path / "given"
    if kind == "directory":
        target.mkdir()
    else:
        target.write_text("company,sku\n")
        target.chmod(0)

    # When it is given to the command
    result = subprocess.run(
        [*_without_root_privileges(), sys.executable, "-m", "frontends.cli", *command, str(target)],
        env=pipeline_env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )

    # Then one line names the file and what is wrong with it; exit 2
    line = _one_line_naming(result, str(target))
    assert ("is a directory" if kind == "directory" else "cannot be read") in line
    assert result.returncode == 2


def test_services_start_never_prints_a_password(pipeline_env, database_url):
    # Given configured URLs that carry passwords
    env = dict(
        pipeline_env,
        TILLPOST_DATABASE_URL=make_url(database_url).set(password=SECRET).render_as_string(hide_password=False),
        TILLPOST_BROKER_URL=f"redis://:{SECRET}@127.0.0.1:{free_port()}/0",
    )

    # When the services are started and their status asked for
    started = tillpost(env, "services", "start")
    status = tillpost(env, "services", "status")

    # Then neither shows a password
    assert started.returncode == 0, started.stderr
    assert "database" in started.stdout and SECRET not in started.stdout + started.stderr
    assert SECRET not in status.stdout + status.stderr, status.stdout


def _embedded_env(pipeline_env: dict[str, str], home: Path) -> dict[str, str]:
    env = {k: v for k, v in pipeline_env.items() if k not in ("TILLPOST_DATABASE_URL", "TILLPOST_BROKER_URL")}
    return dict(env, TILLPOST_HOME=str(home))


def _postmaster_pid(home: Path) -> int | None:
    pid_file = home / "pg" / "postmaster.pid"
    return int(pid_file.read_text().split()[0]) if pid_file.exists() else None


def _alive(pid: int | None) -> bool:
    """Running, and not merely a zombie waiting for init to reap it."""
    if pid is None:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def _force_stop_embedded(home: Path) -> None:
    """Last resort after the test: no server of this home may outlive it."""
    for pid in (_postmaster_pid(home), _redis_pid(home)):
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)  # type: ignore[arg-type]


def _redis_pid(home: Path) -> int | None:
    pid_file = home / "redis" / "redis.pid"
    return int(pid_file.read_text().strip()) if pid_file.exists() else None


def test_services_stop_stops_the_embedded_servers_even_after_a_worker_ran(pipeline_env, tmp_path_factory):
    # Given a home with no URLs configured, whose embedded servers were started
    home = tmp_path_factory.mktemp("svc", numbered=True) / "home"
    env = _embedded_env(pipeline_env, home)
    try:
        started = tillpost(env, "services", "start")
        assert started.returncode == 0, started.stderr
        status = json.loads(tillpost(env, "services", "status", "--json").stdout)
        assert [(s["service"], s["state"]) for s in status] == [("database", "running"), ("broker", "running")]
        assert {s["data_dir"] for s in status} == {str(home / "pg"), str(home / "redis")}

        # And `tillpost worker` ran on them (migrated: it refuses a database that is not) and was
        # stopped (its exec'ed process never tells pgserver it left)
        migrated = tillpost(env, "db", "upgrade")
        assert migrated.returncode == 0, migrated.stderr
        log = tmp_path_factory.mktemp("svc-worker") / "worker.log"
        worker = start_tillpost(env, log, "worker", "-c", "1", "--without-gossip", "--without-mingle")
        try:
            wait_until(lambda: " ready." in log.read_text(), timeout=90, what="the worker to start")
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=60)
        postmaster = _postmaster_pid(home)
        assert _alive(postmaster)

        # When the services are stopped
        stopped = tillpost(env, "services", "stop")

        # Then PostgreSQL and Redis are really gone, and status says so
        assert stopped.returncode == 0, stopped.stderr
        assert not _alive(postmaster)
        status = json.loads(tillpost(env, "services", "status", "--json").stdout)
        assert [(s["service"], s["state"]) for s in status] == [("database", "stopped"), ("broker", "stopped")]
    finally:
        tillpost(env, "services", "stop")
        _force_stop_embedded(home)


def test_demo_json_prints_exactly_one_json_document_and_logs_the_workers_to_a_file(sessions, pipeline_env):
    # When the demo runs with --json
    result = tillpost(pipeline_env, "demo", "--sales", "30", "--workers", "1", "--json", timeout=300)

    # Then the whole of stdout is the batch document
    assert result.returncode == 0, result.stderr[-3000:]
    document = json.loads(result.stdout)
    assert document["state"] == "DONE" and document["requests"] == 30
    # And the workers' output went to a log file under TILLPOST_HOME, whose place is said on stderr
    log = Path(pipeline_env["TILLPOST_HOME"]) / "demo" / "workers.log"
    assert str(log) in result.stderr
    assert " ready." in log.read_text()


def test_celerys_own_worker_command_consumes_every_queue_and_runs_the_follow_ups(sessions, pipeline_env, tmp_path):
    from workers.app import QUEUES

    # Given a shop and a worker started the way Celery documents it: no -Q
    with sessions.begin() as s:
        make_shop(s, stock={"MUG": 6})
    log = tmp_path / "plain-worker.log"
    worker = subprocess.Popen(
        [*CELERY, "worker", "-c", "1", "--without-gossip", "--loglevel", "INFO"],
        env=pipeline_env,
        cwd=ROOT,
        start_new_session=True,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(lambda: " ready." in log.read_text(), timeout=90, what="the plain worker to start")
        banner = log.read_text()
        assert all(f".> {queue} " in banner for queue in QUEUES), banner

        # When a member's sale that takes a MUG below its reorder point is submitted
        request = tmp_path / "sale.json"
        request.write_text(json.dumps(sale("Q-1", [("MUG", "2")], [("CASH", "25.80")], customer="C001")))
        posted = tillpost(pipeline_env, "submit", str(request), "--wait", "--json")
        assert posted.returncode == 0, posted.stderr
        assert json.loads(posted.stdout)[0]["outcome"] == "POSTED"

        # Then every follow-up of the sale (reorder, loyalty, receipt) has run
        def follow_ups_done() -> bool:
            with sessions() as s:
                rows = s.execute(select(FollowUp.kind, FollowUp.done_at).join(Sale, Sale.id == FollowUp.sale_id)).all()
            return len(rows) == 3 and all(done is not None for _, done in rows)

        wait_until(follow_ups_done, timeout=60, what="the follow-ups to run on a worker started without -Q")
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=60)


@pytest.mark.parametrize(
    ("task", "queue"),
    [
        ("tasks.posting.post_requests", "posting"),
        ("tasks.posting.post_batch_range", "posting"),
        ("tasks.followups.receipts", "followups"),
        ("tasks.sweeper.sweep", "sweeper"),
    ],
)
def test_every_task_is_sent_to_a_declared_queue_with_its_own_exchange(task, queue):
    from workers.app import QUEUES, app

    routed = app.amqp.router.route({}, task)["queue"]

    # A queue declared bare would be bound to the default queue's exchange and key, and eat "posting"'s work
    assert (routed.name, routed.exchange.name, routed.routing_key) == (queue, queue, queue)
    assert queue in QUEUES


@pytest.mark.parametrize(
    ("change", "said"),
    [({"database": "no_such_ledger"}, 'database "no_such_ledger" does not exist'), ({"username": "nobody"}, "nobody")],
    ids=["no such database", "no such user"],
)
def test_a_database_that_answers_but_refuses_is_not_called_unreachable(pipeline_env, change, said):
    # Given the real server, with a database name or user it does not know (and a password to hide)
    url = make_url(pipeline_env["TILLPOST_DATABASE_URL"]).set(password=SECRET, **change)
    env = dict(pipeline_env, TILLPOST_DATABASE_URL=url.render_as_string(hide_password=False))

    result = tillpost(env, "batch", "list")

    # Then it says the server refused and why, and to fix the URL (not to start a server that runs)
    _one_line_naming(result, "refused the connection", said, "fix TILLPOST_DATABASE_URL")
    assert "start it" not in result.stderr
    assert result.returncode == 3
