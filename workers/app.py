"""The Celery app. Settings come from celeryconfig.py; the tasks live in tasks/.

Run a worker with `tillpost worker` (or `celery -A workers.app worker -Q posting,followups`).
Nothing connects at import time: the broker is dialled when a worker starts or a task is sent.
"""

from celery import Celery

app = Celery("tillpost")
app.config_from_object("celeryconfig")
app.conf.include = ["tasks.posting", "tasks.batches", "tasks.followups", "tasks.sweeper"]
app.set_default()

QUEUES = ("posting", "followups", "sweeper")
