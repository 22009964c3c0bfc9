"""Celery tasks: thin adapters that take ids, call one domain function, and enqueue what follows.

Tasks are declared with `shared_task`, so this package never imports the app (workers/ does).
"""
