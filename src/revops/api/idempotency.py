"""Idempotency keys: a retried `POST /leads` gets the first answer, and nothing is written twice.

A client that timed out cannot know whether its lead landed; sending the same request with the
same `Idempotency-Key` header is then safe. Keys are scoped to the API key that sent them (two
integrations cannot collide) and bound to a SHA-256 of the request body: the same key with a
different body is refused, since answering it with the first lead's result would be a lie.
Answers are stored in `api_idempotency` in the same transaction as the lead, and kept in memory
for the server's lifetime.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from revops.warehouse import Warehouse


class IdempotencyConflict(Exception):
    """The key was used before with a different request body."""


@dataclass(frozen=True)
class Stored:
    """An answer: its status and body, and the body already encoded when the journal thread
    made it (`raw`, compact UTF-8 JSON, as a JSONResponse renders `body`), so the event loop,
    whose CPU queues the answers, does not encode it again."""

    request_hash: str
    status_code: int
    body: dict[str, Any]
    raw: bytes | None = field(default=None, compare=False, repr=False)


def request_hash(payload: dict[str, Any]) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def scoped(key_id: str | None, key: str) -> str:
    return f"{key_id or '-'}:{key}"


@dataclass
class IdempotencyStore:
    done: dict[str, Stored] = field(default_factory=dict)
    inflight: dict[str, tuple[str, asyncio.Future[Stored]]] = field(default_factory=dict)

    @classmethod
    def load(cls, wh: Warehouse) -> IdempotencyStore:
        rows = wh.to_arrow(
            wh.table("api_idempotency").select(
                "idem_key", "request_hash", "status_code", "response"
            )
        ).to_pylist()
        return cls(
            {
                r["idem_key"]: Stored(
                    r["request_hash"], int(r["status_code"]), json.loads(r["response"])
                )
                for r in rows
            }
        )

    async def replay(self, key: str, digest: str) -> Stored | None:
        """The stored (or in-flight) answer for `key`, None if unseen; conflict on a new body."""
        hit = self.done.get(key)
        if hit is None and key in self.inflight:
            first, future = self.inflight[key]
            if first != digest:
                raise IdempotencyConflict(key)
            return await asyncio.shield(future)
        if hit is not None and hit.request_hash != digest:
            raise IdempotencyConflict(key)
        return hit
