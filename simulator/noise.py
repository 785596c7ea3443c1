"""Noise and drift that are pure functions of (seed, signal, simulated time).

A seeded ``random.Random`` stepped once per wall-clock tick would make values
depend on how the event loop happened to be scheduled. Hashing the time slot
instead gives the same value at the same simulated second in every run, at any
speed, however often it is sampled.
"""

from __future__ import annotations

import math
import zlib

_MASK = (1 << 64) - 1


def key_of(name: str) -> int:
    """A stable integer key for a signal name."""
    return zlib.crc32(name.encode())


def hash_unit(seed: int, key: int, slot: int) -> float:
    """A uniform number in [-1, 1) for one (seed, key, slot) (splitmix64 finaliser)."""
    x = (seed * 0x9E3779B97F4A7C15 + key * 0xBF58476D1CE4E5B9 + slot * 0x94D049BB133111EB + 1) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    x ^= x >> 31
    return x / (1 << 63) - 1.0


def noise(seed: int, key: int, t: float, period: float = 1.0) -> float:
    """Band-limited noise in [-1, 1): values every ``period`` seconds, linearly interpolated."""
    position = t / period
    slot = math.floor(position)
    frac = position - slot
    a = hash_unit(seed, key, slot)
    b = hash_unit(seed, key, slot + 1)
    return a + (b - a) * frac


def drift(seed: int, key: int, t: float, period: float) -> float:
    """A slow wander in [-1, 1]: two sines with seeded phases, periods ``period`` and 0.37 × it."""
    phase_a = (hash_unit(seed, key, -1) + 1) * math.pi
    phase_b = (hash_unit(seed, key, -2) + 1) * math.pi
    slow = math.sin(2 * math.pi * t / period + phase_a)
    fast = math.sin(2 * math.pi * t / (0.37 * period) + phase_b)
    return 0.7 * slow + 0.3 * fast
