"""Credentials never reach a message or a log line.

:func:`mask_url` replaces the password (and the user name's secret part) of
any URL's userinfo with ``***``: ``redis://app:s3cret@redis:6379/0`` becomes
``redis://app:***@redis:6379/0``. Every message that names a server address
from settings goes through it.
"""

from __future__ import annotations

import re

_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^:@/\s]*)(?::[^@/\s]*)?@")


def mask_url(text: str) -> str:
    """``text`` with the password of every ``scheme://user:password@`` replaced by ``***``."""
    return _USERINFO.sub(
        lambda m: f"{m['scheme']}{m['user']}:***@" if m.group(0).count(":") > 1 else m.group(0),
        text,
    )
