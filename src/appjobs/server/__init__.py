"""The HTTP server: the Starlette application and ``appjobs serve``, which runs it with its workers."""
