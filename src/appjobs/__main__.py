"""``python -m appjobs`` runs the command line."""

from __future__ import annotations

from appjobs.cli.main import main

main()
