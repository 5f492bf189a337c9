"""``python -m lstflow_dev``: the development CLI."""

import sys

from lstflow_dev.cli import main

sys.exit(main())
