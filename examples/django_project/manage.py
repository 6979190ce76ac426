#!/usr/bin/env python
"""Django's command-line utility for this example project.

    export CLERK_SECRET_KEY=sk_test_...             # or a FakeClerk's key, see README
    export CLERK_API_URL=http://127.0.0.1:8787/v1   # only for a FakeClerk
    DJANGO_DEBUG=1 python manage.py runserver
    python manage.py import_users ../users.jsonl
"""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
