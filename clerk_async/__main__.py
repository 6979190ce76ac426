"""``python -m clerk_async``: the ``clerk-users`` command."""

import sys

from .cli import main

sys.exit(main())
