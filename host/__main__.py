"""``python -m host`` runs the agent-host CLI."""

import sys

from host.cli import main

sys.exit(main())
