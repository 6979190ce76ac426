"""The process's one Clerk client, shared by every view and worker thread.

Created at import, which starts nothing: no thread, no connection. The first
call starts one event-loop thread (named ``clerk-sync-portal``) that owns the
connection pool and the rate limiter for the whole process; every worker
thread's call is handed to it, so 32 threads make one pool, not 32. It is also
safe to create before a pre-forking server (gunicorn ``--preload``) forks:
each child starts its own loop on its first call.

``Clerk()`` reads ``CLERK_SECRET_KEY`` and ``CLERK_API_URL`` here, at import
time (when Django loads the URLconf), so they must be in the environment
before that, as they are for ``manage.py runserver``.
"""

from clerk_sync import Clerk, RetryPolicy

# A web request should answer within seconds rather than wait out the SDK's
# default two-minute retry budget: 10 s per call in all, then the view answers
# 503 (rate limited) or 502 (Clerk failing). Bulk jobs make their own client
# with the patient defaults (see management/commands/import_users.py).
RETRY = RetryPolicy(max_attempts=3, deadline=10.0)
TIMEOUT = 5.0  # seconds per attempt

clerk = Clerk(retry=RETRY, timeout=TIMEOUT)
