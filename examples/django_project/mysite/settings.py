"""Settings of the example project: as few as Django needs.

Users live in Clerk, so the project has no database, no admin, no auth and no
sessions. Everything that differs between machines comes from the environment:
``CLERK_SECRET_KEY`` and ``CLERK_API_URL`` (read by the Clerk clients), plus
the ``DJANGO_*`` variables below.
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
]

ROOT_URLCONF = "mysite.urls"
WSGI_APPLICATION = "mysite.wsgi.application"

# No database: Django falls back to its dummy backend, and nothing here queries one.
DATABASES: dict[str, dict[str, str]] = {}

USE_TZ = True
