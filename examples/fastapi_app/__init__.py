"""A FastAPI service that manages Clerk users with one shared ``AsyncClerk``.

Run it with ``uvicorn examples.fastapi_app.main:app`` from the repository root.
"""
