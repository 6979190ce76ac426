"""Runnable examples; a package so that ``uvicorn examples.fastapi_app.main:app`` imports."""
