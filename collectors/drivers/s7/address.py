"""S7 addresses and the codec of the S7 types.

An address names an area, a type and a byte offset, in the form
``<area>,<type><offset>[.<bit or length>]``:

- area: ``DB<n>`` (data block n), ``M`` (markers/flags), ``I`` (inputs,
  process image), ``Q`` (outputs, process image);
- type and what follows the offset: ``X<byte>.<bit>`` (BOOL), ``INT``, ``DINT``,
  ``REAL``, ``LREAL``, ``STRING<byte>.<max length>``, ``WSTRING<byte>.<max length>``,
  ``DT<byte>`` (DATE_AND_TIME).

Examples: ``DB10,REAL4``, ``DB10,X0.3``, ``M,INT20``, ``I,X1.7``, ``Q,DINT4``,
``DB3,STRING10.20``, ``DB3,WSTRING40.16``, ``DB3,DT80``.

Values are big-endian as the PLC keeps them; the getters of ``snap7.util`` do the
decoding. A STRING is its maximum length, its current length and the
characters (2 + n bytes, Latin-1); a WSTRING the same in 16-bit words (4 + 2n
bytes, UTF-16); a DATE_AND_TIME is 8 BCD bytes, read as an ISO 8601 text (the
PLC's local time: it carries no zone).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from snap7 import util
from snap7.type import Area

from collectors.errors import ConfigError


class S7Type(StrEnum):
    BOOL = "X"
    INT = "INT"
    DINT = "DINT"
    REAL = "REAL"
    LREAL = "LREAL"
    STRING = "STRING"
    WSTRING = "WSTRING"
    DATE_AND_TIME = "DT"


AREAS = {"M": Area.MK, "I": Area.PE, "Q": Area.PA}
_FIXED_SIZE = {S7Type.BOOL: 1, S7Type.INT: 2, S7Type.DINT: 4, S7Type.REAL: 4, S7Type.LREAL: 8,
               S7Type.DATE_AND_TIME: 8}  # fmt: skip
_PATTERN = re.compile(r"^(?:DB(?P<db>\d{1,5})|(?P<area>[MIQ])),(?P<type>X|INT|DINT|REAL|LREAL|STRING|WSTRING|DT)"
                      r"(?P<offset>\d{1,6})(?:\.(?P<sub>\d{1,4}))?$")  # fmt: skip
TEXT_TYPES = frozenset({S7Type.STRING, S7Type.WSTRING, S7Type.DATE_AND_TIME})


@dataclass(frozen=True, slots=True)
class S7Address:
    area: Area
    db: int  # 0 outside data blocks
    type: S7Type
    offset: int  # byte
    sub: int = 0  # the bit of a BOOL, the maximum length of a (W)STRING

    @property
    def size(self) -> int:
        """Bytes the value occupies."""
        if self.type is S7Type.STRING:
            return 2 + self.sub
        if self.type is S7Type.WSTRING:
            return 4 + 2 * self.sub
        return _FIXED_SIZE[self.type]

    def __str__(self) -> str:
        area = f"DB{self.db}" if self.area is Area.DB else next(k for k, v in AREAS.items() if v is self.area)
        tail = f".{self.sub}" if self.type in (S7Type.BOOL, S7Type.STRING, S7Type.WSTRING) else ""
        return f"{area},{self.type.value}{self.offset}{tail}"


def parse_address(text: str, where: str = "s7_address") -> S7Address:
    """``DB10,REAL4`` → S7Address; raises ConfigError naming ``where`` and the expected form."""
    match = _PATTERN.fullmatch(text.strip().upper())
    if match is None:
        raise ConfigError([f"{where}: {text!r} is not an S7 address such as DB10,REAL4, DB1,X0.3, M,INT20, "
                           "I,X1.7, DB3,STRING10.20 or DB3,DT80"])  # fmt: skip
    kind = S7Type(match["type"])
    sub = int(match["sub"]) if match["sub"] is not None else None
    if kind is S7Type.BOOL and (sub is None or sub > 7):
        raise ConfigError([f"{where}: {text!r}: a BOOL needs its bit 0..7 (X<byte>.<bit>)"])
    if kind in (S7Type.STRING, S7Type.WSTRING) and (sub is None or not 1 <= sub <= 254):
        raise ConfigError([f"{where}: {text!r}: a {kind.name} needs its maximum length 1..254 (.<length>)"])
    if kind not in (S7Type.BOOL, S7Type.STRING, S7Type.WSTRING) and sub is not None:
        raise ConfigError([f"{where}: {text!r}: a {kind.name} takes no .{sub}"])
    if match["db"] is not None:
        db = int(match["db"])
        if db < 1:
            raise ConfigError([f"{where}: {text!r}: data blocks start at DB1"])
        return S7Address(Area.DB, db, kind, int(match["offset"]), sub or 0)
    return S7Address(AREAS[match["area"]], 0, kind, int(match["offset"]), sub or 0)


def decode(address: S7Address, data: bytearray, at: int) -> float | str:
    """The value of ``address`` whose first byte is ``data[at]``."""
    kind = address.type
    if kind is S7Type.BOOL:
        return 1.0 if util.get_bool(data, at, address.sub) else 0.0
    if kind is S7Type.INT:
        return float(util.get_int(data, at))
    if kind is S7Type.DINT:
        return float(util.get_dint(data, at))
    if kind is S7Type.REAL:
        return float(util.get_real(data, at))
    if kind is S7Type.LREAL:
        return float(util.get_lreal(data, at))
    if kind is S7Type.STRING:
        return str(util.get_string(data, at))
    if kind is S7Type.WSTRING:
        return str(util.get_wstring(data, at))
    return util.get_date_time_object(data, at).isoformat()


def encode(address: S7Address, value: float | str | bool) -> bytearray:
    """The bytes of ``value`` at ``address`` (for a BOOL: the byte with only that bit set or clear,
    to be merged by the caller; the simulator and writes use it)."""
    data = bytearray(address.size)
    kind = address.type
    if kind is S7Type.BOOL:
        util.set_bool(data, 0, address.sub, bool(value))
    elif kind is S7Type.INT:
        util.set_int(data, 0, int(value))
    elif kind is S7Type.DINT:
        util.set_dint(data, 0, int(value))
    elif kind is S7Type.REAL:
        util.set_real(data, 0, float(value))
    elif kind is S7Type.LREAL:
        util.set_lreal(data, 0, float(value))
    elif kind is S7Type.STRING:
        util.set_string(data, 0, str(value), address.sub)
    elif kind is S7Type.WSTRING:
        util.set_wstring(data, 0, str(value), address.sub)
    else:
        util.set_dt(data, 0, datetime.fromisoformat(str(value)))
    return data
