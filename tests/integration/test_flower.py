"""Flower is locked: every page and API call asks for the password, and no cross-origin request succeeds.

A real worker and a real Flower started the way `tillpost up` starts it (frontends.processes.flower_command),
spoken to with a real HTTP client. /metrics and /healthcheck stay open (counts only, no control).
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from runtime import flower_auth, settings
from tests.workers import FLOWER_AUTH, flower_get, flower_request, free_port, start_flower, wait_until

pytestmark = pytest.mark.pipeline
ROOT = Path(__file__).resolve().parents[2]

# What a web page on another site makes a browser send (the browser adds the password it remembers).
FOREIGN_ORIGINS = [
    pytest.param({"Origin": "http://offers.example"}, id="origin-only"),
    pytest.param({"Origin": "http://offers.example", "Sec-Fetch-Site": "cross-site"}, id="fetch-metadata"),
    pytest.param({"Origin": "null"}, id="sandboxed-frame"),
    pytest.param({"Origin": "http://127.0.0.1:8000", "Sec-Fetch-Site": "same-site"}, id="another-local-port"),
]
# Everything that changes the workers or sends work, with harmless targets.
HOSTILE_POSTS = [
    "/api/worker/shutdown/{worker}",
    "/api/worker/pool/shrink/{worker}",
    "/api/task/async-apply/tasks.sweeper.sweep",
    "/api/task/send-task/tasks.sweeper.sweep",
    "/api/task/revoke/{task}",
]


@pytest.fixture
def flower(pipeline_env, start_worker, tmp_path):
    """A real worker and Flower watching it; yields (port, worker, the worker's node name)."""
    worker = start_worker(concurrency=1)
    port = free_port()
    process = start_flower(pipeline_env, tmp_path, port)
    try:
        listed = wait_until(lambda: _workers_listed(port), timeout=60, what="Flower to list the worker")
        node = next(name for name in listed if name.startswith(f"{worker.name}@"))
        yield port, worker, node
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_every_page_and_api_call_asks_for_the_password(flower):
    port, _, node = flower
    for path in ["/", "/workers", f"/worker/{node}", "/tasks", "/api/workers", "/api/tasks", "/api/task/types"]:
        # Given no password, or a wrong one: refused, and the browser is asked for one
        anonymous = flower_request(port, path, auth=None)
        assert anonymous.status == 401, path
        assert anonymous.headers.get("www-authenticate", "").startswith("Basic") or path.startswith("/api"), path
        assert flower_request(port, path, auth="tester:wrong").status == 401, path
        # Given the password: answered
        assert flower_request(port, path).status == 200, path


def test_metrics_and_healthcheck_stay_open_without_the_password(flower):
    port, _, _ = flower
    assert flower_request(port, "/healthcheck", auth=None).body == b"OK"
    metrics = flower_request(port, "/metrics", auth=None)
    assert metrics.status == 200 and b"flower_" in metrics.body


@pytest.mark.parametrize("origin", FOREIGN_ORIGINS)
def test_a_foreign_page_cannot_stop_the_worker_or_send_work_even_when_the_browser_knows_the_password(flower, origin):
    port, worker, node = flower
    for template in HOSTILE_POSTS:
        path = template.format(worker=node, task=uuid.uuid4())
        # When a page on another origin posts, without the password and riding the remembered one
        without = flower_request(port, path, method="POST", auth=None, headers=origin)
        riding = flower_request(port, path, method="POST", headers=origin)
        # Then both are refused: cross-origin is checked before anything runs, password or not
        assert without.status in (401, 403), (path, without)
        assert riding.status == 403, (path, riding)
    # And the worker is still there and answers a ping, with its pool intact
    assert worker.process.poll() is None
    assert _ping(node)
    stats = flower_get(port, "/api/workers?refresh=1")[node]["stats"]
    assert stats["pool"]["max-concurrency"] == 1


@pytest.mark.parametrize("origin", FOREIGN_ORIGINS)
def test_a_foreign_page_cannot_read_the_api_answers(flower, origin):
    port, _, _ = flower
    for path in ["/api/workers", "/api/tasks"]:
        reply = flower_request(port, path, headers=origin)
        # A browser hands the answer to the page only when Flower allows the page's origin: it never does
        assert "access-control-allow-origin" not in reply.headers, path
        assert (
            flower_request(port, path, method="OPTIONS", headers=origin).headers.get("access-control-allow-origin")
            is None
        ), path


def test_the_legitimate_user_can_still_use_the_api_from_flowers_own_pages(flower):
    port, _, node = flower
    # Flower's own page posts with its own origin (same-origin fetch metadata) and the password
    own = {"Origin": f"http://127.0.0.1:{port}", "Sec-Fetch-Site": "same-origin"}
    revoke = flower_request(port, f"/api/task/revoke/{uuid.uuid4()}", method="POST", headers=own)
    assert revoke.status == 200, revoke
    assert node in flower_get(port, "/api/workers")


def test_up_generates_a_password_kept_0600_in_home_and_prints_only_where_it_is(sessions, pipeline_env, tmp_path):
    # Given no TILLPOST_FLOWER_AUTH, `tillpost up` with one worker and Flower
    env = {k: v for k, v in pipeline_env.items() if k != "TILLPOST_FLOWER_AUTH"}
    port = free_port()
    log = tmp_path / "up.log"
    up = subprocess.Popen(
        [sys.executable, "-m", "frontends.cli", "up", "--workers", "1", "--no-intake", "--flower-port", str(port)],
        env=env,
        cwd=ROOT,
        start_new_session=True,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    stored = Path(env["TILLPOST_HOME"]) / "flower-auth"
    try:
        # Then Flower answers with the stored password only
        wait_until(lambda: _workers_listed(port, _read(stored)), timeout=90, what="Flower to list the worker")
        password = stored.read_text().strip()
        assert flower_request(port, "/api/workers", auth=None).status == 401
        assert flower_request(port, "/", auth=None).status == 401
        # And the file is the owner's alone, `up` printed where it is, never the password
        assert stat.S_IMODE(stored.stat().st_mode) == 0o600
        printed = log.read_text()
        assert str(stored) in printed and password.split(":", 1)[1] not in printed
        # And no process `up` started shows the password on its command line (what `ps` shows everyone)
        assert not [pid for pid, line in _command_lines() if password.split(":", 1)[1] in line]
    finally:
        up.send_signal(signal.SIGTERM)
        up.wait(timeout=60)


def test_up_refuses_a_flower_auth_that_is_not_user_colon_password(sessions, pipeline_env):
    env = dict(pipeline_env, TILLPOST_FLOWER_AUTH="just-a-password")
    done = subprocess.run(
        [sys.executable, "-m", "frontends.cli", "up", "--workers", "1", "--no-intake"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "TILLPOST_FLOWER_AUTH" in done.stderr and "Traceback" not in done.stderr
    assert "just-a-password" not in done.stderr + done.stdout


def test_the_generated_password_is_created_0600_even_with_umask_0_and_kept_across_starts(tmp_path):
    config = settings.load({"TILLPOST_HOME": str(tmp_path / "home")})
    old = os.umask(0)
    try:
        first = flower_auth.credential(config)
    finally:
        os.umask(old)
    assert first.stored_in == tmp_path / "home" / "flower-auth"
    assert stat.S_IMODE(first.stored_in.stat().st_mode) == 0o600
    user, password = first.user_password.split(":", 1)
    assert user and len(password) >= 32
    assert flower_auth.credential(config) == first


def test_a_stored_password_that_others_can_read_is_refused(tmp_path):
    config = settings.load({"TILLPOST_HOME": str(tmp_path)})
    stored = flower_auth.credential(config).stored_in
    assert stored is not None
    stored.chmod(0o644)
    with pytest.raises(flower_auth.FlowerAuthExposed) as refused:
        flower_auth.credential(config)
    assert str(stored) in str(refused.value) and "0644" in str(refused.value)


def test_tillpost_flower_auth_is_used_as_given_and_nothing_is_stored(tmp_path):
    config = settings.load({"TILLPOST_HOME": str(tmp_path), "TILLPOST_FLOWER_AUTH": "anna:s3cret,with:colon"})
    given = flower_auth.credential(config)
    assert given.user_password == "anna:s3cret,with:colon" and given.stored_in is None
    assert not (tmp_path / "flower-auth").exists()


@pytest.mark.parametrize("value", ["s3cret", ":s3cret", "anna:", "anna: ", "\n"])
def test_a_tillpost_flower_auth_that_is_not_user_colon_password_is_refused(tmp_path, value):
    config = settings.load({"TILLPOST_HOME": str(tmp_path), "TILLPOST_FLOWER_AUTH": value})
    with pytest.raises(flower_auth.FlowerAuthMalformed) as refused:
        flower_auth.credential(config)
    assert "TILLPOST_FLOWER_AUTH" in str(refused.value)


def _workers_listed(port: int, auth: str | None = FLOWER_AUTH) -> dict | None:
    try:
        return flower_get(port, "/api/workers?refresh=1", auth=auth) or None
    except OSError:  # not listening yet, or the file not written yet
        return None


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return None


def _ping(node: str) -> bool:
    from workers.app import app

    return any(node in reply for reply in app.control.ping(destination=[node], timeout=5))


def _command_lines() -> list[tuple[str, str]]:
    lines = []
    for entry in Path("/proc").iterdir():
        try:
            lines.append((entry.name, (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")))
        except OSError:
            continue
    return lines
