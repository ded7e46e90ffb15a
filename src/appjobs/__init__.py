"""appjobs: an open implementation of SAP's External Job Scheduling.

Three faces: ``appjobs serve`` (a job server that speaks SAP's OData service
BC_EXT_APPJOB_MANAGEMENT), a client library for any server that speaks it,
and ``appjobs run`` for external schedulers.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
