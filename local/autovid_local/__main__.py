"""``python -m autovid_local`` is the ``autovid`` command."""

import sys

from autovid_local.cli import main

sys.exit(main())
