"""Names for writes, so that a store can tell a resent write from another one.

A client that loses a connection mid-pipeline sends the pipeline again, and the
worker retries a failed ``commit`` with the very same write objects. Such a
resend must succeed as the first send did. Another write with the same content
(a zombie that read the same version) must stay refused. Each write object gets
a random 8-byte nonce; the same object given again (by the retry of the last
call) gets the same one. The store keeps the nonce of a customer's last write.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from impulse_stream.store.base import CustomerWrite


class WriteNonces:
    def __init__(self) -> None:
        # The writes of the last call, held so that their ids cannot be reused meanwhile.
        self._last: dict[int, tuple[CustomerWrite, bytes]] = {}

    def assign(self, writes: Sequence[CustomerWrite]) -> list[bytes]:
        nonces = []
        last = {}
        for w in writes:
            known = self._last.get(id(w))
            nonce = known[1] if known is not None and known[0] is w else os.urandom(8)
            last[id(w)] = (w, nonce)
            nonces.append(nonce)
        self._last = last
        return nonces
