"""Entry point of ``python -m include.perfpipe``."""

import sys

from include.perfpipe.cli import main

sys.exit(main())
