"""Celery settings, as a plain module read from the environment (through runtime.settings).

Choices, and why:
- acks_late + reject_on_worker_lost: a message is acknowledged only after its task ran, so a killed
  worker's message is delivered again. Every task is idempotent (keyed by intake id or sale id).
- prefetch 1: a posting message carries a chunk of sales (seconds of work); prefetching more would
  park chunks on a busy worker while another sits idle, and would strand more on a crash.
- visibility_timeout 600 s: how long Redis waits before redelivering an unacknowledged message. It
  must exceed the longest chunk; shorter would run slow chunks twice (harmless, but wasted work).
  Recovery does not depend on it: the sweeper re-enqueues from PostgreSQL what is still undone.
- JSON only, no result backend: tasks return nothing anyone waits on; outcomes live in PostgreSQL.
- Task events on (and sent events) so Flower sees every task from send to success.
"""

from kombu import Exchange, Queue

from runtime import settings as _settings
from tasks import names as _names

_s = _settings.load()

broker_url = _s.broker_url
broker_connection_retry_on_startup = True
broker_transport_options = {"visibility_timeout": 600}

task_serializer = "json"
result_serializer = "json"
accept_content = ["json"]
result_backend = None
task_ignore_result = True

task_acks_late = True
task_reject_on_worker_lost = True
worker_prefetch_multiplier = 1

worker_send_task_events = True
task_send_sent_event = True

# Every queue the project uses, declared: a worker started without -Q (Celery's usual
# `celery -A workers.app worker`) consumes all of them, and each task name is routed to one of them.
# Each queue has its own exchange and routing key: a bare Queue(name) would be bound to the default
# queue's exchange and key, and every message would land in "posting".
task_queues = tuple(Queue(name, Exchange(name), routing_key=name) for name in dict.fromkeys(_names.QUEUES.values()))
task_default_queue = "posting"
task_create_missing_queues = False
task_routes = {name: {"queue": queue} for name, queue in _names.QUEUES.items()}  # by explicit name

beat_schedule = {
    # Its own queue, so a follow-up backlog never delays it; a sweep not started before the next is
    # due is dropped. Every worker also sweeps by itself when this one is overdue (workers/selfsweep.py).
    "sweep-undone-work": {
        "task": _names.SWEEP,
        "schedule": _s.sweep_interval,
        "kwargs": {"by": "beat"},
        "options": {"expires": _s.sweep_interval * 0.8},
    },
}
beat_schedule_filename = str(_s.home / "celerybeat-schedule")

timezone = "Asia/Singapore"
enable_utc = True
