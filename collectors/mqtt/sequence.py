"""An edge node's ``seq`` as a host sees it: a gap that the reorder timeout does not close means lost messages.

Sparkplug 3.0 (message ordering): every message of an edge node session
carries ``seq`` 0–255, NBIRTH being 0 and each following message one more.
A host that sees a number out of order starts a Reorder Timeout; when the
missing messages have not arrived when it elapses, messages were lost and the
host sends the node an NCMD ``Node Control/Rebirth`` (so its births give every
current value and alias again).

:class:`SeqTracker` keeps that account for one node; the host calls
:meth:`SeqTracker.seen` with each message's ``seq`` and asks :meth:`SeqTracker.lost`
(from its watcher thread) whether a gap outlived the timeout.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

_HALF = 128  # a number up to this far behind the expected one is a late or repeated message, not a gap


@dataclass
class SeqTracker:
    """The expected next ``seq`` of one node and the numbers still missing, with when they went missing."""

    expected: int | None = None  # None until the node's NBIRTH (seq 0)
    missing: dict[int, float] = field(default_factory=dict)  # seq → monotonic time it was found missing
    gaps: int = 0  # gaps that outlived the reorder timeout

    def born(self) -> None:
        """An NBIRTH (seq 0) starts a new count; what was missing from the old session no longer matters."""
        self.expected = 1
        self.missing.clear()

    def seen(self, seq: int, now: float | None = None) -> None:
        """Account for one message's ``seq`` (an NBIRTH is :meth:`born` instead)."""
        if self.expected is None:  # data from before the birth this host saw (it started mid-session)
            return
        ahead = (seq - self.expected) % 256
        if ahead >= 256 - _HALF:  # behind: a late message (fills a hole) or a redelivered one
            self.missing.pop(seq, None)
            return
        moment = time.monotonic() if now is None else now
        for skipped in range(ahead):
            self.missing.setdefault((self.expected + skipped) % 256, moment)
        self.missing.pop(seq, None)
        self.expected = (seq + 1) % 256

    def lost(self, reorder_timeout: float, now: float | None = None) -> list[int]:
        """The numbers missing for longer than ``reorder_timeout`` s (forgotten once returned; a gap counted)."""
        moment = time.monotonic() if now is None else now
        overdue = sorted(seq for seq, since in self.missing.items() if moment - since >= reorder_timeout)
        for seq in overdue:
            del self.missing[seq]
        if overdue:
            self.gaps += 1
        return overdue
