"""What Redis says about a run: memory, commands, and the size of customer keys."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import redis


@dataclass(frozen=True)
class RedisSnapshot:
    used_memory: int
    commands: int  # total_commands_processed
    command_calls: dict[str, int]  # INFO commandstats: calls per command

    def commands_since(self, before: RedisSnapshot) -> dict[str, int]:
        out = {}
        for name, calls in self.command_calls.items():
            delta = calls - before.command_calls.get(name, 0)
            if delta:
                out[name] = delta
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))


@dataclass(frozen=True)
class KeySample:
    """``MEMORY USAGE`` of sampled customer hashes, their encoding and state blob length."""

    keys: int
    sampled: int
    mean_bytes: float
    p95_bytes: float
    max_bytes: int
    mean_state_bytes: float
    encodings: dict[str, int]  # OBJECT ENCODING -> sampled keys (listpack is the compact one)
    mean_bytes_by_encoding: dict[str, float]
    other_keys: int  # the per-partition indexes (timers, outbox) and learning counts
    other_bytes: int  # their MEMORY USAGE, all of them
    median_bytes: float = 0.0
    # OBJECT ENCODING of those keys, by type: "zset listpack" (a timer shard that stays
    # compact), "zset skiplist", "set listpack", ...
    other_encodings: dict[str, int] | None = None


class RedisProbe:
    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=30)

    def snapshot(self) -> RedisSnapshot:
        memory = self.client.info("memory")
        stats = self.client.info("stats")
        commandstats = self.client.info("commandstats")
        calls = {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in commandstats.items()}
        return RedisSnapshot(
            used_memory=int(memory["used_memory"]),
            commands=int(stats["total_commands_processed"]),
            command_calls=calls,
        )

    def config(self, name: str) -> str | None:
        try:
            value = self.client.config_get(name).get(name)
        except redis.ResponseError:  # CONFIG disabled on a managed Redis
            return None
        return str(value) if value is not None else None

    def keys_with_prefix(self, prefix: str) -> int:
        return sum(1 for _ in self.client.scan_iter(match=f"{prefix}*", count=1000))

    def customer_keys(self, prefix: str, sample: int = 500) -> KeySample:
        keys = list(self.client.scan_iter(match=f"{prefix}c:*", count=1000))
        others = [
            k
            for k in self.client.scan_iter(match=f"{prefix}*", count=1000)
            if not k.startswith(f"{prefix}c:".encode())
        ]
        picked = keys[:: max(1, len(keys) // sample)][:sample] if keys else []
        pipe = self.client.pipeline(transaction=False)
        for key in picked:
            pipe.memory_usage(key, samples=0)
            pipe.hstrlen(key, "s")
            pipe.object("encoding", key)
        for key in others:
            pipe.memory_usage(key, samples=0)
            pipe.type(key)
            pipe.object("encoding", key)
        replies = pipe.execute() if picked or others else []
        head, rest = replies[: 3 * len(picked)], replies[3 * len(picked) :]
        tail = rest[0::3]
        other_encodings: dict[str, int] = {}
        for kind, encoding in zip(rest[1::3], rest[2::3], strict=True):
            name = f"{_text(kind)} {_text(encoding)}"
            other_encodings[name] = other_encodings.get(name, 0) + 1
        sizes = [int(r or 0) for r in head[0::3]]
        states = [int(r or 0) for r in head[1::3]]
        encodings: dict[str, int] = {}
        by_encoding: dict[str, list[int]] = {}
        for e, size in zip(head[2::3], sizes, strict=True):
            name = e.decode() if isinstance(e, bytes) else str(e)
            encodings[name] = encodings.get(name, 0) + 1
            by_encoding.setdefault(name, []).append(size)
        other_bytes = sum(int(r or 0) for r in tail)
        if not sizes:
            return KeySample(
                len(keys),
                0,
                0.0,
                0.0,
                0,
                0.0,
                {},
                {},
                len(others),
                other_bytes,
                0.0,
                other_encodings,
            )
        ordered = sorted(sizes)
        return KeySample(
            keys=len(keys),
            sampled=len(sizes),
            mean_bytes=round(statistics.fmean(sizes), 1),
            p95_bytes=float(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]),
            max_bytes=ordered[-1],
            mean_state_bytes=round(statistics.fmean(states), 1),
            encodings=encodings,
            mean_bytes_by_encoding={
                name: round(statistics.fmean(v), 1) for name, v in sorted(by_encoding.items())
            },
            other_keys=len(others),
            other_bytes=other_bytes,
            median_bytes=float(ordered[len(ordered) // 2]),
            other_encodings=dict(sorted(other_encodings.items())),
        )

    def delete_prefix(self, prefix: str) -> int:
        deleted = 0
        batch: list[bytes] = []
        for key in self.client.scan_iter(match=f"{prefix}*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                deleted += int(self.client.delete(*batch))
                batch.clear()
        if batch:
            deleted += int(self.client.delete(*batch))
        return deleted

    def close(self) -> None:
        self.client.close()


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
