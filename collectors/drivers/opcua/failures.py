"""How OPC UA failures map onto LineBrain's typed errors.

The worker decides about backoff and reconnects from the error type alone, so
the mapping lives in one place: transport and session failures are
:class:`ConnectionLost`, a request without answer is :class:`DeviceTimeout`, and
"too many operations / message too large" is a hint to halve the request.
"""

from __future__ import annotations

import asyncio

from asyncua import ua

from collectors.errors import ConnectionLost, DeviceError, DeviceTimeout

S = ua.StatusCodes

# Answers that mean "ask for fewer nodes per call".
TOO_LARGE = frozenset({
    S.BadTooManyOperations,
    S.BadTcpMessageTooLarge,
    S.BadResponseTooLarge,
    S.BadRequestTooLarge,
    S.BadEncodingLimitsExceeded,
    S.BadTooManyMonitoredItems,
})

# Answers that mean the session or channel is gone.
SESSION_GONE = frozenset({
    S.BadSessionClosed,
    S.BadSessionIdInvalid,
    S.BadSessionNotActivated,
    S.BadSecureChannelClosed,
    S.BadSecureChannelIdInvalid,
    S.BadConnectionClosed,
    S.BadNotConnected,
    S.BadServerHalted,
    S.BadShutdown,
    S.BadNoCommunication,
    S.BadCommunicationError,
    S.BadServerNotConnected,
})


class SecurityError(DeviceError):
    """The secure channel or the login was refused; retrying will not help until config changes."""


class UntrustedServerCertificate(SecurityError):
    """The server's certificate is not in the trust folder."""


def is_too_large(exc: BaseException) -> bool:
    return isinstance(exc, ua.UaStatusCodeError) and exc.code in TOO_LARGE


def as_device_error(exc: BaseException, what: str) -> DeviceError:
    """The typed error for a failed request (``what`` names the request for the message)."""
    if isinstance(exc, DeviceError):
        return exc
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return DeviceTimeout(f"{what}: no answer in time")
    if isinstance(exc, ua.UaStatusCodeError):
        if exc.code == S.BadTimeout:
            return DeviceTimeout(f"{what}: {exc}")
        if exc.code in SESSION_GONE:
            return ConnectionLost(f"{what}: {exc}")
        return DeviceError(f"{what}: {exc}")
    if isinstance(exc, ConnectionError | OSError | EOFError):
        return ConnectionLost(f"{what}: {exc or type(exc).__name__}")
    return ConnectionLost(f"{what}: {type(exc).__name__}: {exc}")
