"""Settings of the example project: as few as Django needs.

Users live in Clerk, so the project has no admin, no Django auth and no
sessions: callers are identified by their Clerk session token
(``ClerkSessionMiddleware``). Its one SQLite table is the local copy of users
that Clerk's webhooks keep in step (``manage.py migrate`` creates it).
Everything that differs between machines comes from the environment:
``CLERK_SECRET_KEY`` and ``CLERK_API_URL`` (read by the Clerk clients),
``CLERK_WEBHOOK_SIGNING_SECRET``, plus the ``DJANGO_*`` variables below.
"""

import os
import sys

# Without a key every view would answer "Clerk unreachable" and hide why: refuse
# to start instead, in one line (settings load first in manage.py, WSGI and ASGI).
if not os.environ.get("CLERK_SECRET_KEY"):
    sys.exit(
        "django_project: CLERK_SECRET_KEY is not set; export your Clerk secret key "
        "(or a FakeClerk's, see the README) before starting"
    )

# The fallback is for trying the example locally; set a real one anywhere else.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "django-insecure-example-only")
DEBUG = os.environ.get("DJANGO_DEBUG", "").lower() in {"1", "true", "yes", "on"}
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",")

# Installed for its management command (import_users); it has no models.
INSTALLED_APPS = ["clerkusers"]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # request.clerk_session, from the Clerk session token (verified on first use)
    "clerk_sync.django.ClerkSessionMiddleware",
]

# The client the middleware verifies with: the project's one shared Clerk.
CLERK_CLIENT = "clerkusers.clerk.clerk"

ROOT_URLCONF = "mysite.urls"
WSGI_APPLICATION = "mysite.wsgi.application"

# No database: Django falls back to its dummy backend, and nothing here queries one.
# Only for LocalUser, the table Clerk's webhooks keep in step (views.clerk_webhook).
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get(
            "DJANGO_DB_PATH", os.path.join(os.path.dirname(os.path.dirname(__file__)), "db.sqlite3")
        ),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

USE_TZ = True
