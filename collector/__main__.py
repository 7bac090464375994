"""`python -m collector collector|token ...`: the same verbs as `lenswatch collector|token`."""

import sys

from collector.cli import main

sys.exit(main())
