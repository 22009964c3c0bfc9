"""The Celery app. Settings come from celeryconfig.py; the tasks live in tasks/.

Run a worker with `tillpost worker`, or with Celery's usual `celery -A workers.app worker`: with no
-Q it consumes every queue declared in celeryconfig.task_queues.
Nothing connects at import time: the broker is dialled when a worker starts or a task is sent.
"""

from celery import Celery

from workers.selfsweep import SelfSweep

app = Celery("tillpost")
app.config_from_object("celeryconfig")
app.conf.include = ["tasks.posting", "tasks.batches", "tasks.followups", "tasks.sweeper"]
app.set_default()
app.steps["worker"].add(SelfSweep)  # every worker sweeps when beat is overdue

QUEUES = tuple(queue.name for queue in app.conf.task_queues)  # "posting", "followups", "sweeper"
