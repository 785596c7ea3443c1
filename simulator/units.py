"""Engineering units as OPC UA EUInformation (UNECE Recommendation 20 codes)."""

from __future__ import annotations

from asyncua import ua

UNECE_NAMESPACE = "http://www.opcfoundation.org/UA/units/un/cefact"
# Our unit text → UNECE common code. Units without a code (bottles/min) get UnitId -1.
UNECE_CODES = {
    "degC": "CEL",
    "bar": "BAR",
    "mbar": "MBR",
    "kWh": "KWH",
    "kW": "KWT",
    "A": "AMP",
    "V": "VLT",
    "mm/s": "C16",
    "l/min": "L2",
    "%": "P1",
    "Hz": "HTZ",
    "rpm": "RPM",
    "h": "HUR",
    "s": "SEC",
}


def unit_id(code: str) -> int:
    """The UnitId OPC UA derives from a UNECE code (Part 8, EUInformation)."""
    value = 0
    for char in code:
        value = (value << 8) | ord(char)
    return value


def eu_information(unit: str) -> ua.EUInformation:
    code = UNECE_CODES.get(unit)
    return ua.EUInformation(
        NamespaceUri=UNECE_NAMESPACE,
        UnitId=unit_id(code) if code else -1,
        DisplayName=ua.LocalizedText(unit),
        Description=ua.LocalizedText(unit),
    )
