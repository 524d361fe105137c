"""Control characters in text people type, and text bound for XML.

XML 1.0 (Atom and RSS feeds) cannot carry most C0 control characters: one vertical tab in an
external status update made Django's feed generator raise for every visitor. PostgreSQL
refuses NUL in text. So text that customers read (titles, status updates, component and
maintenance text) is checked at the edge - in the service, and as a model field validator
so admin and API forms show a field error - and feeds strip what XML forbids from rows stored
before the check existed.

Refused: the Unicode control characters (category Cc: U+0000-U+001F, U+007F-U+009F) except
tab, line feed and carriage return, plus what XML 1.0 forbids besides (lone surrogates,
U+FFFE, U+FFFF). Everything else, emoji and every script included, is fine.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

from opsportal.errors import InvalidInput

# Characters refused in text people write (see the module docstring).
_REFUSED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
# Characters XML 1.0 cannot carry at all (its Char production): stripped when rendering.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def control_character_message(text: str) -> str | None:
    """Why ``text`` is refused, naming the first offending character and its position
    (1-based), or None when it is fine."""
    match = _REFUSED.search(text or "")
    if match is None:
        return None
    return (
        f"The text contains a control character (U+{ord(match.group()):04X}) "
        f"at position {match.start() + 1}: remove it."
    )


def refuse_control_characters(text: str | None, *, field: str) -> None:
    """Raise InvalidInput (a 400 field error) when ``text`` carries a refused character."""
    message = control_character_message(text or "")
    if message:
        raise InvalidInput(message, field=field)


def validate_no_control_characters(value) -> None:
    """Model/form field validator: the same rule as a Django ValidationError."""
    message = control_character_message(value if isinstance(value, str) else "")
    if message:
        raise ValidationError(message, code="control_character")


def strip_control_characters(text: str | None) -> str:
    """``text`` without the refused characters: for text the portal derives from stored names
    (an automatic incident title), which must never fail where a person could not fix it."""
    return _REFUSED.sub("", text or "")


def xml_safe(text: str | None) -> str:
    """``text`` without the characters XML 1.0 cannot carry (for feeds over stored rows)."""
    return _XML_INVALID.sub("", text or "")
