"""`python -m bot` runs the `crieur` command."""

import sys

from bot.cli import main

sys.exit(main())
