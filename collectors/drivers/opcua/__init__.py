"""OPC UA driver: polling with chunked bulk reads, subscriptions, reconnects, security, browsing.

Public surface: :class:`OpcuaDriver` (the :class:`collectors.drivers.base.Driver`
for one ``protocol: opcua`` connection), :func:`browse` for discovery, and the
security errors. See ``README.md`` in this folder.
"""

from collectors.drivers.opcua.browsing import BrowsedVariable, browse, config_from_variables
from collectors.drivers.opcua.driver import OpcuaDriver
from collectors.drivers.opcua.failures import SecurityError, UntrustedServerCertificate
from collectors.drivers.opcua.security import ensure_client_certificate, fetch_server_certificate

__all__ = [
    "BrowsedVariable",
    "OpcuaDriver",
    "SecurityError",
    "UntrustedServerCertificate",
    "browse",
    "config_from_variables",
    "ensure_client_certificate",
    "fetch_server_certificate",
]
