"""``python -m pinfer`` runs the ``pinfer`` command."""

from pinfer.cli import main

raise SystemExit(main())
