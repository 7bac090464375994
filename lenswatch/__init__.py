"""lenswatch: camera-health pipeline. The `lenswatch` command lives in lenswatch.cli."""

__version__ = "0.1.0"
