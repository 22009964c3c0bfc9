"""The business of tillpost: sale requests, money, the ledger tables, posting and follow-ups.

Plain Python, SQLAlchemy and pydantic only; nothing here knows about Celery or the front-ends.
Where a sale is posted: domain/posting.py, `post_request`.
"""
