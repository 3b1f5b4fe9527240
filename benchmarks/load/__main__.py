"""``python -m benchmarks.load``: see :mod:`benchmarks.load`."""

import sys

from benchmarks.load.cli import main

sys.exit(main())
