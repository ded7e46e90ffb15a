"""The web pages under ``/appjobs/ui/``: Application Jobs, Job Templates, Communication Management.

Server-rendered HTML (Jinja2) with htmx for the parts that update live,
both shipped inside this package (``templates/``, ``static/``), so there is
no build step. Pages are read without JavaScript; htmx only adds live
updates and in-place actions. Who may do what: :mod:`appjobs.auth.ui`.
"""

from __future__ import annotations

from appjobs.web.app import create_ui

__all__ = ["create_ui"]
