"""The ``appjobs`` command line."""
