"""Reading numbers out of untrusted text: query strings, form posts, path segments, headers,
command-line arguments and JSON paths typed by people.

``str.isdigit()`` is the wrong guard in front of ``int()``: it is true for superscripts and
other digit-like characters (``"²".isdigit()``) that ``int()`` refuses, which turned a query
string into a 500. ``str.isdecimal()`` is what ``int()`` accepts, but that includes the
decimal digits of every script (``int("١٢") == 12``), so an id typed in Arabic-Indic digits
would silently name row 12. Ids and counts on the wire are ASCII: these helpers accept exactly
``[0-9]+`` (with an optional leading ``-`` where the caller allows negatives), bounded, and
answer ``None`` for anything else so each caller words its own 400.
"""

from __future__ import annotations

BIGINT_MAX = 2**63 - 1  # the largest primary key a BigAutoField (PostgreSQL bigint) can hold
_MAX_DIGITS = len(str(BIGINT_MAX))  # longer strings are refused before int() sees them


def is_ascii_digits(text: str) -> bool:
    """``[0-9]+`` and nothing else: no sign, no spaces, no other script's digits."""
    return text.isascii() and text.isdecimal()


def parse_int(value: object, *, min_value: int | None = None, max_value: int | None = None) -> int | None:
    """``value`` as an int when it is an int (not a bool) or an ASCII integer literal
    (``"42"``, ``"-3"``) within the bounds; otherwise None. Never raises."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        digits = value[1:] if value.startswith("-") else value
        if not is_ascii_digits(digits) or len(digits) > _MAX_DIGITS:
            return None
        number = int(value)
    else:
        return None
    if min_value is not None and number < min_value:
        return None
    if max_value is not None and number > max_value:
        return None
    return number


def parse_id(value: object) -> int | None:
    """A primary key (1 .. 2**63-1) written in ASCII digits, else None."""
    if isinstance(value, str) and value.startswith("-"):
        return None
    return parse_int(value, min_value=1, max_value=BIGINT_MAX)
