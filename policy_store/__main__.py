"""``python -m policy_store`` runs the CLI."""

import sys

from policy_store.cli.main import main

sys.exit(main())
