"""The Celery side: the app, its queues, and the command lines that start workers."""
