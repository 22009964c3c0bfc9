"""The long-running side: `up` (workers, beat, Flower, the intake, supervised), `worker` (one Celery
worker, extra arguments to Celery), `intake` (the HTTP intake alone), `demo` (from nothing to a
posted day), `services` (the embedded servers)."""

from __future__ import annotations

import click

from frontends.cli.common import command_settings, json_option, show
from frontends.cli.summary import print_batch
from runtime import embedded


@click.command()
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True, help="worker processes")
@click.option("--no-flower", is_flag=True, help="do not start Flower")
@click.option("--no-intake", is_flag=True, help="do not start the HTTP intake")
@click.option("--flower-port", type=click.IntRange(1, 65535), default=5555, show_default=True)
@click.option("--intake-port", type=click.IntRange(1, 65535), default=8000, show_default=True)
def up(workers: int, no_flower: bool, no_intake: bool, flower_port: int, intake_port: int) -> int:
    """Migrate, start workers, Flower and the HTTP intake; Ctrl-C stops all.

    Workers, beat (the sweeper's clock), Flower and the intake are supervised: one that dies is started again."""
    from frontends import processes
    from migrations.schema import upgrade

    config = command_settings()
    embedded.ensure_running(config)
    upgrade(config.database_url)
    config.home.mkdir(parents=True, exist_ok=True)
    commands = [("worker", processes.worker_command(["-c", str(workers)])), ("beat", processes.beat_command())]
    if not no_flower:
        commands.append(("flower", _flower_command(flower_port)))
    if not no_intake:
        print(f"HTTP intake: http://127.0.0.1:{intake_port} (spec at /openapi.json)", flush=True)
        commands.append(("intake", processes.intake_command(intake_port)))
    return processes.run_all(commands)


def _flower_command(port: int) -> list[str]:
    """Flower's command line, once its password is known (generated on the first `up`)."""
    from frontends import processes
    from runtime.flower_auth import credential, require_cross_origin_refusal

    require_cross_origin_refusal()
    login = credential(command_settings())  # Flower reads the same one, in its own process
    print(f"Flower: http://127.0.0.1:{port} (log in with {login.where()})", flush=True)
    return processes.flower_command(port)


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
def worker(celery_args: tuple[str, ...]) -> int:
    """One Celery worker (extra arguments go to Celery).

    It consumes the project's queues; every further argument is Celery's (`celery -A workers.app worker
    --help` lists them), e.g. `tillpost worker --concurrency 4`."""
    from frontends.processes import exec_worker

    embedded.ensure_running(command_settings())
    _refuse_a_database_not_migrated()
    exec_worker(list(celery_args))
    return 0  # not reached: the process became the worker


def _refuse_a_database_not_migrated() -> None:
    """A worker writes the schema this code knows: on a database that answers but is migrated to
    another (or not at all) it does not start (NotMigrated: one line naming `tillpost db upgrade`,
    exit 3), where it would post into old tables and triggers. A database that does not answer yet
    is no reason to refuse: the worker starts and its tasks wait for it, as after a restart (a
    container may well start before PostgreSQL)."""
    from sqlalchemy.exc import DBAPIError

    from domain.errors import TransientError
    from services.unit_of_work import connect

    db = connect(command_settings())
    try:
        db.answers()
    except (TransientError, DBAPIError):
        pass
    finally:
        db.dispose()


@click.command()
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
def intake(port: int) -> int:
    """The HTTP intake alone, on 127.0.0.1 (POST /v1/sales, the Shopify and WooCommerce webhooks).

    Keys from TILLPOST_INTAKE_KEYS, webhook secrets from TILLPOST_SHOPIFY_SECRET and
    TILLPOST_WOOCOMMERCE_SECRET; `tillpost up` starts it too."""
    from frontends.processes import exec_intake

    embedded.ensure_running(command_settings())
    exec_intake(port)
    return 0  # not reached: the process became the intake


@click.command()
@click.option(
    "--sales", type=click.IntRange(1, 10_000_000), default=5000, show_default=True, help="sales in the generated day"
)
@click.option(
    "--workers", type=click.IntRange(1, 64), default=2, show_default=True, help="worker processes to post with"
)
@click.option("--no-workers", is_flag=True, help="use workers that are already running")
@json_option
def demo(sales: int, workers: int, no_workers: bool, as_json: bool) -> int:
    """From nothing to a posted day, with a summary.

    Embedded services, the demo catalogue, a generated day of sales posted with a progress bar."""
    from frontends.demo import run_demo, sweeper_note

    document = run_demo(sales, workers, start_workers=not no_workers)
    print_batch(document, as_json, sweeper=sweeper_note(document["sweeper"], started_workers=not no_workers))
    return 0 if document["reconciled"] else 1


@click.command()
@click.argument("action", type=click.Choice(["start", "stop", "status"]))
@json_option
def services(action: str, as_json: bool) -> int:
    """The embedded PostgreSQL and Redis: start, stop, status.

    Then each service is shown: state, URL (without its password), data folder."""
    from runtime import services as embedded_services

    config = command_settings()
    if action == "stop":
        embedded.stop(config)
    elif action == "start":
        embedded.ensure_running(config)
    states = [s.as_dict() for s in embedded_services.status(config)]
    return show(states, as_json, ("service", "state", "url", "data_dir"))


COMMANDS = (up, worker, intake, demo, services)
