"""A chat client as the web page is one: token -> ticket over HTTP -> WebSocket, frames kept.

Shared by the local demo (`make demo`, the end-to-end tests) and the smoke check of a deployed
stack (`make smoke`), so both drive the chat channel the same way. The WebSocket itself is the
`websockets` library's; what is written here is the protocol's small client side.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from websockets.sync.client import ClientConnection, connect

# Cold starts of the API function, the authorizer and the connect function take seconds.
HTTP_TIMEOUT_SECONDS = 60
OPEN_TIMEOUT_SECONDS = 60

Frame = dict[str, Any]


def mint_token(
    secretsmanager: Any, secret_arn: str, sub: str, name: str, rooms: Iterable[str], ttl: int
) -> str:
    """What `chat token` does: a token signed with the stack's chat secret (JSON key "secret")."""
    from courier.chat.tokens import TokenSigner

    secret = secretsmanager.get_secret_value(SecretId=secret_arn)["SecretString"]
    with suppress(ValueError, TypeError, KeyError):
        secret = json.loads(secret)["secret"]
    return TokenSigner(secret).mint(sub, name, list(rooms), ttl_seconds=ttl)


def request_ticket(api_base: str, token: str) -> str:
    """A single-use WebSocket ticket: POST {api_base}/chat/tickets with the Bearer token."""
    from botocore.awsrequest import AWSRequest
    from botocore.httpsession import URLLib3Session

    request = AWSRequest(
        method="POST",
        url=f"{api_base}/chat/tickets",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )
    response = URLLib3Session(timeout=HTTP_TIMEOUT_SECONDS).send(request.prepare())
    if response.status_code != 201:
        raise RuntimeError(
            f"POST {api_base}/chat/tickets answered {response.status_code}: "
            f"{response.content[:300]!r}"
        )
    ticket: str = json.loads(response.content)["ticket"]
    return ticket


@dataclass
class ChatClient:
    """One WebSocket connection and every frame it received."""

    name: str
    connection: ClientConnection
    frames: list[Frame] = field(default_factory=list)

    def send(self, frame: Frame) -> None:
        self.connection.send(json.dumps(frame))

    def send_raw(self, text: str) -> None:
        self.connection.send(text)

    def join(self, room: str) -> Frame:
        self.send({"action": "join", "room": room})
        return self.wait_for(lambda f: f.get("type") == "presence" and f.get("room") == room)

    def say(self, room: str, text: str) -> Frame:
        msg_id = uuid.uuid4().hex
        self.send({"action": "send", "room": room, "text": text, "client_msg_id": msg_id})
        return self.wait_for(lambda f: f.get("type") == "ack" and f.get("client_msg_id") == msg_id)

    def wait_for(self, match: Callable[[Frame], bool], *, timeout: float = 30) -> Frame:
        for seen in self.frames:
            if match(seen):
                return seen
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                frame: Frame = json.loads(self.connection.recv(timeout=left))
            except TimeoutError:
                break
            self.frames.append(frame)
            if match(frame):
                return frame
        raise TimeoutError(f"{self.name}: no matching frame in {timeout:.0f}s: {self.frames}")

    def drain(self, seconds: float) -> list[Frame]:
        """Collect frames for `seconds`; returns those that arrived in that time."""
        start = len(self.frames)
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                self.frames.append(json.loads(self.connection.recv(timeout=left)))
            except TimeoutError:
                break
        return self.frames[start:]


@contextmanager
def open_chat(websocket_url: str, name: str, ticket: str | None) -> Iterator[ChatClient]:
    """A connected client; the URL carries the ticket (no ticket: none at all, to be refused)."""
    url = websocket_url if ticket is None else f"{websocket_url}?ticket={ticket}"
    with connect(url, open_timeout=OPEN_TIMEOUT_SECONDS, close_timeout=5) as connection:
        yield ChatClient(name, connection)
