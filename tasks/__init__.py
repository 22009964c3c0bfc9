"""Celery tasks: adapters that take ids, call one use case (services/), send what it says to send
(tasks/messages.py), and turn a passing fault into a Celery retry (tasks/common.py).

Tasks are declared with `shared_task`, so this package never imports the app (workers/ does).
"""
