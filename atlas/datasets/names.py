"""Untrusted names (file, folder and class names) as text that is safe to print and store.

A POSIX file name is bytes: Python hands the ones that are not UTF-8 over as lone
surrogates, which no UTF-8 file (a page, a record, the manifest) can hold, and a
name may hold terminal escape codes that would repaint the user's terminal. `shown`
writes both as visible escapes (`\\xff`, `\\x1b`); every other character, markup
included, stays as it is (pages escape HTML themselves).
"""

from __future__ import annotations

import unicodedata

# Lone surrogates U+DC80..U+DCFF stand for the undecodable bytes 0x80..0xFF
# (Python's "surrogateescape").
_ESCAPED_BYTES = range(0xDC80, 0xDD00)
# Control characters, and the format characters that reorder or hide text (bidi overrides).
_UNPRINTABLE = ("Cc", "Cf", "Cs")


def shown(name: str) -> str:
    """`name` with undecodable bytes and control characters written as escapes."""
    if name.isprintable():  # the usual case, and cheap
        return name
    return "".join(_escaped(char) for char in name)


def _escaped(char: str) -> str:
    code = ord(char)
    if code in _ESCAPED_BYTES:
        return f"\\x{code - 0xDC00:02x}"
    if unicodedata.category(char) not in _UNPRINTABLE:
        return char
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
