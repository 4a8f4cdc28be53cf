"""Credentials hidden from URLs before they are shown or logged: the proctoring API's URL, Redis's.

A URL carries credentials in its user info (`user:password@host`) or in its query string
(`?api_key=…`, `?token=…`, a signed URL's `signature=`): both are hidden."""

from __future__ import annotations

import re
from urllib.parse import unquote, unquote_plus, urlsplit

HIDDEN = "***"

# Query parameters that carry a credential, by name (case-insensitive, `-` and `_` alike): the
# names APIs and signed URLs use for keys, tokens, passwords and signatures.
_SECRET_PARAMETER = re.compile(
    r"^(?:x[-_]amz[-_](?:signature|credential|security[-_]token)|"
    r".*(?:key|token|secret|password|passwd|pwd|auth|signature|sig|credential)s?)$",
    re.IGNORECASE,
)
_QUERY_PAIR = re.compile(r"([^&=;]+)=([^&;]*)")


def redacted_url(url: str) -> str:
    """The URL with its password hidden (`user:***@host`), a user name without a password too
    (`***@host`, since that is where such URLs carry a key), and the values of query parameters
    named like credentials (`?api_key=***`)."""
    parts = urlsplit(url)
    if "@" in parts.netloc:
        userinfo, host = parts.netloc.rsplit("@", 1)
        user, has_password, _ = userinfo.partition(":")
        shown = f"{user}:{HIDDEN}" if has_password else HIDDEN
        parts = parts._replace(netloc=f"{shown}@{host}")
    if parts.query:
        parts = parts._replace(query=_QUERY_PAIR.sub(_hide_secret_value, parts.query))
    return parts.geturl()


def scrubbed(text: str, url: str) -> str:
    """`text` with `url` redacted wherever it appears, and its secrets too, raw or decoded (an
    error message may quote either)."""
    shown = redacted_url(url)
    if shown == url:
        return text
    text = text.replace(url, shown)
    for secret in sorted(_secrets(url), key=len, reverse=True):
        text = text.replace(secret, HIDDEN)
    return text


def _hide_secret_value(pair: re.Match[str]) -> str:
    name, value = pair.group(1), pair.group(2)
    return f"{name}={HIDDEN}" if value and _SECRET_PARAMETER.match(unquote(name)) else pair.group(0)


def _secrets(url: str) -> set[str]:
    parts = urlsplit(url)
    found: set[str] = set()
    if parts.password:
        found |= {parts.password, unquote(parts.password)}
    elif parts.username:
        found.add(parts.username)
    for name, value in _QUERY_PAIR.findall(parts.query):
        if _SECRET_PARAMETER.match(unquote(name)):
            found |= {value, unquote(value), unquote_plus(value)}
    return {secret for secret in found if secret}
