"""``python -m workbench.cli`` (what ``torchrun ... -m workbench.cli run RECIPE`` starts on each rank)."""

import sys

from workbench.cli import main

sys.exit(main())
