"""The DTMF keypad (ITU-T Q.23): each key is the sum of one row tone and one column tone.

Shared by the simulator (tones it renders, tones it detects in an app's audio) and the suite's
stream checks, so the three never disagree on a frequency.
"""

from __future__ import annotations

#: Row (low-group) frequencies in Hz, top row first.
ROWS: tuple[float, ...] = (697.0, 770.0, 852.0, 941.0)
#: Column (high-group) frequencies in Hz, left column first.
COLUMNS: tuple[float, ...] = (1209.0, 1336.0, 1477.0, 1633.0)
#: The keys, one string per row.
KEYS: tuple[str, ...] = ("123A", "456B", "789C", "*0#D")
#: Key -> (row frequency, column frequency).
FREQUENCIES: dict[str, tuple[float, float]] = {
    key: (row, column)
    for row, keys in zip(ROWS, KEYS, strict=True)
    for column, key in zip(COLUMNS, keys, strict=True)
}

__all__ = ["COLUMNS", "FREQUENCIES", "KEYS", "ROWS"]
