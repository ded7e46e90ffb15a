"""appjobs: an open implementation of SAP's External Job Scheduling.

Three faces: ``appjobs serve`` (a job server that speaks SAP's OData service
BC_EXT_APPJOB_MANAGEMENT), a client library for any server that speaks it,
and ``appjobs run`` for external schedulers.

``appjobs.Client`` is :class:`appjobs.client.Client`, imported on first use:
``import appjobs`` itself loads nothing (no requests, no server side), so
that commands which only need a little start fast.
"""

from __future__ import annotations

# Not typing.TYPE_CHECKING: importing typing alone would double the cost of importing appjobs.
# Type checkers read a module-level TYPE_CHECKING = False as True all the same.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from appjobs.client import Client

__version__ = "0.1.0"

__all__ = ["Client", "__version__"]


def __getattr__(name: str) -> object:
    # PEP 562: runs only for names the module does not have, i.e. on the first appjobs.Client.
    if name == "Client":
        from appjobs.client import Client

        globals()["Client"] = Client
        return Client
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
