"""The OData v2 wire format of BC_EXT_APPJOB_MANAGEMENT, as pure functions.

Nothing in this package does I/O, knows an HTTP framework or touches storage:
it turns URL text into Python values and back (``literals``, ``keys``, ``query``,
``filter``) and describes and renders the service's payloads. SAP's names
(``JobTemplateSet``, ``JobRunCount``) live here as plain strings, because this
is the edge where appjobs meets the wire.
"""

from __future__ import annotations
