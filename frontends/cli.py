"""`tillpost`: the command line of ../shared/CLI.md.

Exit status: 0 success, 1 a check or command failed, 2 bad usage or bad input, 3 PostgreSQL or the
broker could not be reached.
With no URL configured, every command starts (or reuses) the embedded servers of TILLPOST_HOME.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from domain import queries
from domain.errors import AmbiguousCode, ImportFailed, NotFound, TillpostError
from frontends import outages
from frontends.output import emit_json, fields, table
from frontends.recovery import sweeper_line
from runtime import embedded, settings


def _sessions() -> sessionmaker[Session]:
    """Sessions on the ledger's database; ServiceUnavailable at once when it does not answer."""
    from sqlalchemy.exc import DBAPIError

    from domain.db import make_engine, session_factory

    config = settings.load()
    embedded.ensure_running(config)
    engine = make_engine(settings.load().database_url)
    try:
        engine.connect().close()  # the connection stays in the pool for the command's own work
    except DBAPIError as exc:
        if outages.service_behind(exc) != "database":
            raise
        raise outages.ServiceUnavailable.of("database", config) from None
    return session_factory(engine)


def cmd_db(args: argparse.Namespace) -> int:
    from migrations.schema import upgrade

    config = settings.load()
    embedded.ensure_running(config)
    upgrade(settings.load().database_url, args.revision)
    print(f"database at {args.revision}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from domain.db import in_transaction
    from domain.masterdata.importing import import_csv

    try:
        content = _read_file(args.file).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadInput(f"{args.file}: not a UTF-8 CSV file ({exc})") from None
    report = in_transaction(_sessions(), lambda session: import_csv(session, args.kind, io.StringIO(content)))
    print(f"{report.kind}: {report.rows} row(s), {report.inserted} inserted, {report.updated} updated")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from domain.masterdata.importing import export_csv

    with _sessions()() as session:
        export_csv(session, args.kind, sys.stdout)
    return 0


def _read_file(path: str) -> bytes:
    """The file's bytes; BadInput naming the file when it is missing, a directory or unreadable."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise BadInput(_file_problem(path, exc)) from None


def _file_problem(path: str, exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return f"{path}: no such file"
    if isinstance(exc, IsADirectoryError):
        return f"{path}: is a directory, not a file"
    return f"{path}: cannot be read ({exc.strerror or exc})"


def _read_requests(path: str) -> list[Any]:
    from domain.posting.request import decode

    content = _read_file(path)
    try:
        data = decode(content)
    except ValueError as exc:
        raise BadInput(f"{path}: not valid JSON: {exc}") from None
    return data if isinstance(data, list) else [data]


def cmd_submit(args: argparse.Namespace) -> int:
    from frontends.ledger import Ledger

    payloads = _read_requests(args.file)
    ledger = Ledger(_sessions())
    intake_ids = ledger.submit(payloads)
    finished = True
    if args.wait:
        from frontends.recovery import REQUESTS_KEEP_POSTING, Watch

        try:
            finished = ledger.wait(intake_ids, timeout=args.timeout, watch=Watch())
        except KeyboardInterrupt:
            print(f"\nstopped waiting: {REQUESTS_KEEP_POSTING}", file=sys.stderr)
            return 130
    documents = ledger.outcomes(intake_ids)
    if args.json:
        emit_json(documents)
    else:
        table(documents, ("request_id", "outcome", "reason", "transaction_number", "total", "message"))
    if not finished:
        print(f"timed out after {args.timeout:g} s, requests still PENDING; {REQUESTS_KEEP_POSTING}", file=sys.stderr)
        return 1
    return 0


def _show(args: argparse.Namespace, document: Any, columns: tuple[str, ...] | None = None) -> int:
    if args.json:
        emit_json(document)
    elif columns is not None:
        table(document, columns)
    else:
        fields(document)
    return 0


def cmd_sale(args: argparse.Namespace) -> int:
    with _sessions()() as session:
        return _show(args, queries.sale_show(session, args.request_id, args.company))


def cmd_stock(args: argparse.Namespace) -> int:
    with _sessions()() as session:
        return _show(args, queries.stock_show(session, args.outlet, args.sku), ("outlet", "sku", "on_hand"))


def cmd_customer(args: argparse.Namespace) -> int:
    with _sessions()() as session:
        document = queries.customer_show(session, args.code, args.company)
    if args.json:
        emit_json(document)
    else:
        print(f"customer {document['code']}: {document['points']} points")
        table(document["entries"], ("sale", "points"))
    return 0


def cmd_reorder(args: argparse.Namespace) -> int:
    with _sessions()() as session:
        rows = queries.reorder_list(session, args.outlet)
    return _show(args, rows, ("outlet", "sku", "on_hand", "reorder_point", "suggested_quantity", "supplier"))


def cmd_receipt(args: argparse.Namespace) -> int:
    from domain.followups.receipts import receipt_for

    with _sessions()() as session:
        if args.company is not None:
            queries.require_sale_of(session, args.transaction_number, args.company)
        print(receipt_for(session, args.transaction_number, html=args.html))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from domain import heartbeat
    from domain.checks import check_ledger

    with _sessions()() as session:
        violations = check_ledger(session)
        sweeper = heartbeat.status(session, "sweeper")
    document = {"ok": not violations, "violations": [{"check": v.check, "detail": v.detail} for v in violations]}
    if args.json:
        emit_json(document)
    elif violations:
        print(f"{len(violations)} violation(s):")
        for v in violations:
            print(f"  [{v.check}] {v.detail}")
    else:
        print("ledger ok: every invariant holds")
    # Not an invariant of the ledger (the exit status ignores it), but a recovery that stopped is a warning.
    if sweeper["overdue"] or not args.json:
        print(sweeper_line(sweeper), file=sys.stderr if args.json else sys.stdout)
    return 0 if not violations else 1


def cmd_post(args: argparse.Namespace) -> int:
    from domain.batches import report as batch_report
    from domain.batches import staging as batches
    from domain.batches.entries import BatchFileError
    from frontends.batchfiles import check_readable
    from frontends.batchpost import post_file
    from frontends.progress import follow

    path = Path(args.file)
    try:
        check_readable(path)
        sessions = _sessions()
        batch_id = post_file(sessions, path)
    except BatchFileError as exc:
        raise BadInput(str(exc)) from None
    if not args.json:
        print(f"batch {batch_id}")
    finished = True
    if args.wait:
        from frontends.recovery import Watch, batch_keeps_posting

        try:
            finished = follow(sessions, batch_id, until=batches.SETTLED, timeout=args.timeout, watch=Watch())
        except KeyboardInterrupt:
            print(f"\nstopped waiting: {batch_keeps_posting(batch_id)}", file=sys.stderr)
            return 130
    with sessions() as session:
        document = batch_report.batch_show(session, batch_id)
    _print_batch(args, document)
    if not finished:
        print(f"timed out after {args.timeout:g} s: {batch_keeps_posting(batch_id)}", file=sys.stderr)
    return 0 if finished and document["state"] != "ATTENTION" else 1  # ATTENTION: a follow-up failed


def _print_batch(args: argparse.Namespace, document: dict[str, Any]) -> None:
    if args.json:
        emit_json(document)
        return
    counts = ", ".join(f"{k} {v}" for k, v in document["counts"].items())
    print(f"batch {document['id']}  {document['state']}  {document['requests']} requests  ({document['source']})")
    print(f"  outcomes: {counts}")
    if document["reasons"]:
        print("  reasons:  " + ", ".join(f"{k} {v}" for k, v in document["reasons"].items()))
    totals = document["totals"]
    print(f"  sales {totals['sales']}  tax {totals['tax']}")
    for outlet, t in totals["by_outlet"].items():
        print(f"    outlet {outlet}: {t['count']} sales, {t['sales']} (tax {t['tax']})")
    for method, amount in totals["by_tender"].items():
        print(f"    tender {method}: {amount}")
    for rate, t in totals["by_gst_rate"].items():
        print(f"    GST {rate}%: amount {t['amount']}, tax {t['tax']}")
    print(f"  reconciled: {'yes' if document['reconciled'] else 'NO'}")
    for check in document["reconciliation"]:
        if not check["ok"]:
            print(f"    {check['check']}: expected {check['expected']}, ledger holds {check['actual']}")
    _print_failed_follow_ups(document)
    print(f"  {sweeper_line(document['sweeper'])}")


def _print_failed_follow_ups(document: dict[str, Any]) -> None:
    total, listed = document["failed_follow_ups_total"], document["failed_follow_ups"]
    if not total:
        return
    print(f"  failed follow-ups: {total} (fix the cause, then: tillpost followups retry --batch {document['id']})")
    for f in listed:
        print(f"    {f['kind']} of sale {f['sale']} ({f['request_id']}), {f['attempts']} attempt(s): {f['error']}")
    if total > len(listed):
        print(f"    ... and {total - len(listed)} more")


def cmd_batch(args: argparse.Namespace) -> int:
    from domain.batches import report as batch_report

    with _sessions()() as session:
        if args.action == "list":
            return _show(args, batch_report.batch_list(session), ("id", "state", "requests", "created_at", "source"))
        if args.id is None:
            raise BadInput("batch show needs a batch id")
        document = batch_report.batch_show(session, args.id)
    _print_batch(args, document)
    return 0


def cmd_batch_report(args: argparse.Namespace) -> int:
    """Every request of a batch with its outcome, as CSV (default) or JSON Lines, to stdout."""
    import csv

    from domain.batches import report as batch_report

    with _sessions()() as session:
        rows = batch_report.batch_requests(session, args.id)
        if args.format == "jsonl":
            for row in rows:
                sys.stdout.write(json.dumps(row) + "\n")
            return 0
        writer = csv.DictWriter(sys.stdout, fieldnames=batch_report.REPORT_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from domain.batches import staging as batches
    from domain.errors import REASON_CODES
    from tasks.batches import enqueue_batch
    from workers.app import app  # noqa: F401

    if args.reason is not None and args.reason not in REASON_CODES:
        raise BadInput(f"unknown reason code {args.reason!r} (one of {', '.join(REASON_CODES)})")
    sessions = _sessions()
    with sessions.begin() as session:
        reopened = batches.reopen_rejected(session, args.batch, args.reason)
    enqueue_batch(sessions, args.batch)
    print(f"batch {args.batch}: {reopened} rejected request(s) sent to post again")
    return 0


def cmd_followups(args: argparse.Namespace) -> int:
    """Failed follow-ups (of a batch, or all) become open again, their batches POSTED; then sent."""
    from domain.followups.failures import retry_failed
    from tasks.followups import requeue
    from workers.app import app  # noqa: F401

    sessions = _sessions()
    with sessions.begin() as session:
        reopened = retry_failed(session, args.batch)
    sent = requeue(reopened)  # once committed; if the broker is down, the sweeper sends them
    where = "" if args.batch is None else f"batch {args.batch}: "
    print(f"{where}{sent} failed follow-up(s) re-queued")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from frontends.demo import run_demo

    document = run_demo(args.sales, args.workers, start_workers=not args.no_workers)
    _print_batch(args, document)
    return 0 if document["reconciled"] else 1


def cmd_worker(args: argparse.Namespace) -> int:
    from frontends.processes import exec_worker

    embedded.ensure_running(settings.load())
    exec_worker(args.celery_args)
    return 0  # not reached: the process became the worker


def cmd_up(args: argparse.Namespace) -> int:
    from frontends import processes
    from migrations.schema import upgrade

    config = settings.load()
    embedded.ensure_running(config)
    upgrade(settings.load().database_url)
    config.home.mkdir(parents=True, exist_ok=True)
    commands = [("worker", processes.worker_command(["-c", str(args.workers)])), ("beat", processes.beat_command())]
    if not args.no_flower:
        from runtime.flower_auth import FlowerAuthError, credential, require_cross_origin_refusal

        try:
            require_cross_origin_refusal()
            login = credential(config)  # generated on the first `up`; Flower reads the same one
        except FlowerAuthError as exc:
            raise BadInput(str(exc)) from None
        commands.append(("flower", processes.flower_command(args.flower_port)))
        print(f"Flower: http://127.0.0.1:{args.flower_port} (log in with {login.where()})", flush=True)
    if not args.no_intake:
        print("HTTP intake: not built yet (see issue notes); pass --no-intake to silence this", flush=True)
    return processes.run_all(commands)


def cmd_services(args: argparse.Namespace) -> int:
    """Start or stop the embedded servers, then show each service: state, URL (no password), data folder."""
    from runtime import services

    config = settings.load()
    if args.action == "stop":
        embedded.stop(config)
    elif args.action == "start":
        embedded.ensure_running(config)
    states = [s.as_dict() for s in services.status(config)]
    return _show(args, states, ("service", "state", "url", "data_dir"))


WAIT_TIMEOUT = 3600.0
WAIT_TIMEOUT_HELP = "seconds --wait waits before it gives up, exit 1; the work goes on (default 3600 s = 1 hour)"


class BadInput(TillpostError):
    """Input the user gave cannot be used (exit status 2)."""


COMPANY_HELP = "the company whose code this is (needed when several companies use the code)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tillpost", description="Post every sale into one ledger.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    db = sub.add_parser("db", help="database migrations")
    db.add_argument("action", choices=["upgrade"])
    db.add_argument("revision", nargs="?", default="head")
    db.set_defaults(run=cmd_db)

    kinds = ("companies", "outlets", "users", "products", "customers", "stock")
    imp = sub.add_parser("import", help="upsert master data from a CSV file")
    imp.add_argument("kind", choices=kinds)
    imp.add_argument("file")
    imp.set_defaults(run=cmd_import)
    exp = sub.add_parser("export", help="write master data as CSV to stdout")
    exp.add_argument("kind", choices=kinds)
    exp.set_defaults(run=cmd_export)

    submit = sub.add_parser("submit", help="submit one sale request (or a JSON array of them)")
    submit.add_argument("file")
    submit.add_argument("--wait", action="store_true", help="wait until every request has an outcome")
    submit.add_argument("--timeout", type=float, default=WAIT_TIMEOUT, help=WAIT_TIMEOUT_HELP)
    submit.add_argument("--json", action="store_true")
    submit.set_defaults(run=cmd_submit)

    sale = sub.add_parser("sale", help="a request's outcome and sale")
    sale.add_argument("action", choices=["show"])
    sale.add_argument("request_id")
    sale.add_argument("--company", help=COMPANY_HELP)
    sale.add_argument("--json", action="store_true")
    sale.set_defaults(run=cmd_sale)

    stock = sub.add_parser("stock", help="stock on hand")
    stock.add_argument("action", choices=["show"])
    stock.add_argument("--outlet", required=True)
    stock.add_argument("--sku")
    stock.add_argument("--json", action="store_true")
    stock.set_defaults(run=cmd_stock)

    customer = sub.add_parser("customer", help="loyalty balance and ledger")
    customer.add_argument("action", choices=["show"])
    customer.add_argument("code")
    customer.add_argument("--company", help=COMPANY_HELP)
    customer.add_argument("--json", action="store_true")
    customer.set_defaults(run=cmd_customer)

    reorder = sub.add_parser("reorder", help="open reorder suggestions")
    reorder.add_argument("action", choices=["list"])
    reorder.add_argument("--outlet")
    reorder.add_argument("--json", action="store_true")
    reorder.set_defaults(run=cmd_reorder)

    receipt = sub.add_parser("receipt", help="the stored receipt of a sale")
    receipt.add_argument("transaction_number")
    receipt.add_argument("--company", help="only a sale of this company (numbers are unique anyway)")
    receipt.add_argument("--html", action="store_true")
    receipt.set_defaults(run=cmd_receipt)

    check = sub.add_parser("check", help="ledger invariants; exit 1 on any violation")
    check.add_argument("--json", action="store_true")
    check.set_defaults(run=cmd_check)

    post = sub.add_parser("post", help="post a batch file (.jsonl or .csv)")
    post.add_argument("file")
    post.add_argument("--wait", action="store_true", help="show live progress and wait until the batch is DONE")
    post.add_argument("--timeout", type=float, default=WAIT_TIMEOUT, help=WAIT_TIMEOUT_HELP)
    post.add_argument("--json", action="store_true")
    post.set_defaults(run=cmd_post)

    batch = sub.add_parser("batch", help="batch state, counts, totals, reconciliation")
    batch.add_argument("action", choices=["show", "list"])
    batch.add_argument("id", nargs="?", type=int)
    batch.add_argument("--json", action="store_true")
    batch.set_defaults(run=cmd_batch)

    report = sub.add_parser("report", help="every request of a batch with its outcome (CSV or JSON Lines)")
    report.add_argument("id", type=int, help="batch id")
    report.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    report.set_defaults(run=cmd_batch_report)

    replay = sub.add_parser("replay", help="post again the rejected requests of a batch")
    replay.add_argument("--batch", type=int, required=True)
    replay.add_argument("--reason", help="only requests rejected for this reason code")
    replay.set_defaults(run=cmd_replay)

    followups = sub.add_parser("followups", help="run failed follow-ups again (after the cause was fixed)")
    followups.add_argument("action", choices=["retry"])
    followups.add_argument("--batch", type=int, help="only the failed follow-ups of this batch (default: all)")
    followups.set_defaults(run=cmd_followups)

    demo = sub.add_parser("demo", help="from nothing to a posted day: demo shop, a day of sales, summary")
    demo.add_argument("--sales", type=int, default=5000, help="sales in the generated day (default 5000)")
    demo.add_argument("--workers", type=int, default=2, help="worker processes to post with (default 2)")
    demo.add_argument("--no-workers", action="store_true", help="use workers that are already running")
    demo.add_argument("--json", action="store_true")
    demo.set_defaults(run=cmd_demo)

    worker = sub.add_parser("worker", help="one Celery worker (extra arguments go to Celery)")
    worker.add_argument("celery_args", nargs=argparse.REMAINDER)
    worker.set_defaults(run=cmd_worker)

    up = sub.add_parser("up", help="migrate, start workers and Flower; Ctrl-C stops all")
    up.add_argument("--workers", type=int, default=2)
    up.add_argument("--no-flower", action="store_true")
    up.add_argument("--no-intake", action="store_true")
    up.add_argument("--flower-port", type=int, default=5555)
    up.set_defaults(run=cmd_up)

    services = sub.add_parser("services", help="the embedded PostgreSQL and Redis: start, stop, status")
    services.add_argument("action", choices=["start", "stop", "status"])
    services.add_argument("--json", action="store_true")
    services.set_defaults(run=cmd_services)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        status = _run(argv)
        sys.stdout.flush()  # a reader that went away shows here, not in the interpreter's last flush
    except BrokenPipeError:
        return _reader_went_away()
    return status


def _reader_went_away() -> int:
    """stdout's reader left (`tillpost batch list | head -1`): end quietly, as a tool stopped by SIGPIPE.

    stdout is pointed at /dev/null first, so the interpreter's own flush at exit cannot fail again.
    """
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 128 + signal.SIGPIPE


def _run(argv: list[str]) -> int:
    try:
        config = settings.load()
    except ValueError as exc:  # a setting that cannot be used, named in the message
        return _fail(2, exc)
    try:
        if argv[:1] == ["worker"] and not {"-h", "--help"} & set(argv[1:2]):
            # Everything after `worker` belongs to Celery (argparse would take --concurrency for its own).
            config.check_urls()
            return cmd_worker(argparse.Namespace(celery_args=argv[1:]))
        args = build_parser().parse_args(argv)
        config.check_urls()
        return int(args.run(args))
    except NotFound as exc:
        return _fail(1, exc)
    except (ImportFailed, BadInput, AmbiguousCode, settings.UnsupportedUrl) as exc:
        return _fail(2, exc)
    except FileNotFoundError as exc:
        return _fail(2, f"no such file: {exc.filename}")
    except (IsADirectoryError, PermissionError) as exc:
        return _fail(2, f"{exc.filename}: {exc.strerror}")
    except outages.ServiceUnavailable as exc:
        return _fail(3, exc)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        service = outages.service_behind(exc)  # a service lost after the command's first contact
        if service is None:
            raise
        return _fail(3, outages.ServiceUnavailable.of(service, config))


def _fail(status: int, problem: object) -> int:
    print(f"tillpost: {problem}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
