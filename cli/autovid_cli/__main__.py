"""``python -m autovid_cli`` is the ``autovid`` command."""

import sys

from autovid_cli.main import main

sys.exit(main())
