"""The HTTP intake (FastAPI + uvicorn): sale requests and signed web-shop webhooks into the same
ledger as the tills. `create_app` (frontends/intake/app.py) is the app factory uvicorn runs."""
