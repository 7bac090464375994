"""`python -m edge_agent agent --config PATH`, for when the lenswatch script is not installed."""

import sys

from edge_agent.cli import main

sys.exit(main())
