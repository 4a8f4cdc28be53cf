"""Credentials hidden from URLs before they are shown or logged: the proctoring API's URL, Redis's."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

HIDDEN = "***"


def redacted_url(url: str) -> str:
    """The URL with its password hidden (`user:***@host`); a user name without a password is
    hidden too (`***@host`), since that is where such URLs carry a key."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    userinfo, host = parts.netloc.rsplit("@", 1)
    user, has_password, _ = userinfo.partition(":")
    shown = f"{user}:{HIDDEN}" if has_password else HIDDEN
    return parts._replace(netloc=f"{shown}@{host}").geturl()


def scrubbed(text: str, url: str) -> str:
    """`text` with `url` redacted wherever it appears, and its password too, raw or decoded (an
    error message may quote either)."""
    shown = redacted_url(url)
    if shown == url:
        return text
    text = text.replace(url, shown)
    parts = urlsplit(url)
    secrets = {parts.password, unquote(parts.password or "")} if parts.password else {parts.username}
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, HIDDEN)
    return text
