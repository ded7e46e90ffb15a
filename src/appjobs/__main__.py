"""``python -m appjobs`` runs the command line."""

from appjobs.cli.main import main

main()
