"""Text for the terminal: file names (and reasons quoting them) with every non-printable character escaped, so a
name holding a newline, a carriage return, an ANSI escape code or a bidi override cannot forge or hide a line."""

from __future__ import annotations

import sys

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(char: str) -> str:
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that is not UTF-8, as os.fsdecode keeps it (surrogateescape): show it
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def printable(text: str) -> str:
    """``text`` on one line: what Python does not count as printable (control characters such as ESC, CR and LF;
    format characters such as bidi overrides and zero-width spaces; line separators; spaces other than the ASCII
    space; private-use and unassigned code points; bytes that are not UTF-8) written as ``\\n``, ``\\x1b``,
    ``\\u202e``…; letters of every script, marks and symbols as they are."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _escape(char) for char in text)


def say(*lines: str) -> None:
    """Prints each of ``lines`` to stderr as one line, made printable: line breaks inside one are escaped too."""
    print("\n".join(printable(line) for line in lines), file=sys.stderr, flush=True)
