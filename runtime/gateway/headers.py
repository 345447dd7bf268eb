"""Which request header names and values HTTP allows, checked before anything goes upstream.

An HTTP server's parser refuses a malformed header, but a Lambda event is JSON: its headers can
hold any string.  Forwarded as they are, a name with a space or colon, or a value with CR, LF or
NUL, either splits into extra header lines upstream (request smuggling) or makes the client
library raise half-way through writing the request.  So the gateway refuses such a request with
a 400 naming the header before user code or the upstream server sees any of it.

Names are RFC 9110 tokens; values are field-content: visible ASCII, space, tab and obs-text
(bytes 0x80-0xFF, which UTF-8 text from an event encodes to), never another control byte.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from runtime.gateway.limits import Rejection

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE_BYTE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_SHOWN_CHARS = 60  # a refused name is echoed in the 400, cut short


def header_rejection(headers: Iterable[Sequence[bytes]]) -> Rejection | None:
    """400 naming the first header whose name is not a token or whose value holds a control byte."""
    for name, value in headers:
        if not _TOKEN.fullmatch(name):
            return Rejection(400, f"Invalid header name {_shown(name)}: a header name must be a token (letters, "
                                  "digits and !#$%&'*+-.^_`|~, no spaces, colons or non-ASCII). Rename the header.")
        if (bad := _BAD_VALUE_BYTE.search(value)) is not None:
            return Rejection(400, f"Invalid value of header {_shown(name)}: control character "
                                  f"{bad.group()!r} at position {bad.start()} (CR, LF, NUL and other control "
                                  "characters are not allowed in header values). Encode the value, e.g. as base64.")
    return None


def _shown(name: bytes) -> str:
    text = bytes(name).decode("utf-8", "backslashreplace")
    return repr(text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "...")
