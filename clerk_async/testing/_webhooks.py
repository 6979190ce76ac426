"""FakeClerk's webhook deliveries: signed ``user.*`` events POSTed to endpoints.

After an API call changes a user, each registered endpoint gets the event
Clerk would send (``user.created``, ``user.updated``, ``user.deleted``), with
the body Clerk's API answered, signed as Svix does (``svix-id``,
``svix-timestamp``, ``svix-signature``). A delivery answered with anything but
2xx (or not answered) is retried after each of ``retry_delays`` seconds, like
Svix's retry schedule in miniature; the ``svix-id`` stays the same, so the
receiver can skip repeats. Deliveries run in the background; ``await
fake.webhooks.drain()`` waits for them.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from yarl import URL

from .._verify_errors import WebhookVerificationError
from .._webhook_signature import SECRET_PREFIX, secret_key, signature
from ._clock import Clock

__all__ = ["Delivery", "WebhookSender"]

DEFAULT_RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0)
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@dataclass
class Delivery:
    """One event to one endpoint: its outcome after every attempt."""

    url: str
    message_id: str
    type: str
    statuses: list[int | None] = field(default_factory=list)

    @property
    def delivered(self) -> bool:
        last = self.statuses[-1] if self.statuses else None
        return last is not None and 200 <= last < 300


@dataclass
class _Endpoint:
    url: str
    secret: str
    key: bytes


class WebhookSender:
    """The endpoints of one fake and the deliveries in flight to them."""

    def __init__(self, seed: int, clock: Clock, instance_id: str) -> None:
        self.clock = clock
        self.instance_id = instance_id
        self.retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS
        self.endpoints: list[_Endpoint] = []
        self.deliveries: list[Delivery] = []
        self._rng = random.Random(f"webhooks-{seed}")
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None

    def add_endpoint(self, url: str, secret: str | None = None) -> str:
        if not isinstance(url, str) or URL(url).scheme not in ("http", "https"):
            raise ValueError(f"url must be an http(s) URL, got {url!r}")
        if secret is None:
            secret = SECRET_PREFIX + base64.b64encode(self._rng.randbytes(24)).decode()
        try:
            key = secret_key(secret)
        except WebhookVerificationError:
            raise ValueError("secret must be 'whsec_' followed by base64, or None") from None
        self.endpoints.append(_Endpoint(url, secret, key))
        return secret

    def _token(self, prefix: str) -> str:
        return prefix + "".join(self._rng.choices(_ALPHABET, k=27))

    def observe(self, operation: str, status: int, body: bytes | None) -> None:
        """Turn a successful user-changing API answer into events."""
        if not self.endpoints or status != 200 or not body:
            return
        try:
            answer = json.loads(body)
        except ValueError:
            return
        objects = answer if isinstance(answer, list) else [answer]
        for item in objects:
            if not isinstance(item, dict) or item.get("object") != "user":
                continue
            if item.get("deleted") is True:
                self.emit("user.deleted", item)
            elif operation == "CreateUser":
                self.emit("user.created", item)
            else:
                self.emit("user.updated", item)

    def emit(self, event_type: str, data: dict[str, Any]) -> None:
        now = self.clock()
        payload = {
            "data": data,
            "instance_id": self.instance_id,
            "object": "event",
            "timestamp": int(now * 1000),
            "type": event_type,
        }
        body = json.dumps(payload, separators=(",", ":")).encode()
        for endpoint in self.endpoints:
            delivery = Delivery(endpoint.url, self._token("msg_"), event_type)
            self.deliveries.append(delivery)
            task = asyncio.get_running_loop().create_task(self._deliver(endpoint, delivery, body))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _deliver(self, endpoint: _Endpoint, delivery: Delivery, body: bytes) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        for delay in (0.0, *self.retry_delays):
            if delay:
                await asyncio.sleep(delay)
            stamp = int(self.clock())
            headers = {
                "Content-Type": "application/json",
                "svix-id": delivery.message_id,
                "svix-timestamp": str(stamp),
                "svix-signature": "v1," + signature(endpoint.key, delivery.message_id, stamp, body),
            }
            try:
                async with self._session.post(endpoint.url, data=body, headers=headers) as reply:
                    await reply.read()
                    status: int | None = reply.status
            except (aiohttp.ClientError, asyncio.TimeoutError):
                status = None
            delivery.statuses.append(status)
            if status is not None and 200 <= status < 300:
                return

    async def drain(self) -> None:
        """Wait until every delivery so far has succeeded or used up its retries."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None
