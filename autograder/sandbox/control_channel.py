"""Framed JSON messages, optionally carrying file descriptors, over a Unix socket.

The grader process and its zygote talk through a ``socketpair``.  Both ends
are trusted; workers never hold this socket (they close every inherited fd).
A frame is a 4-byte little-endian length followed by that many bytes of JSON;
descriptors ride along with the first byte (``SCM_RIGHTS``).
"""

from __future__ import annotations

import json
import socket
import struct

_LENGTH = struct.Struct("<I")
MAX_FDS = 8
MAX_FRAME_BYTES = 256 * 1024 * 1024


class ChannelClosed(EOFError):
    """The other end closed the socket (or died)."""


def send(sock: socket.socket, message: dict, fds: list[int] = ()) -> None:
    data = json.dumps(message).encode()
    frame = _LENGTH.pack(len(data)) + data
    sent = socket.send_fds(sock, [frame], list(fds)) if fds else sock.send(frame)
    sock.sendall(frame[sent:])


def receive(sock: socket.socket) -> tuple[dict, list[int]]:
    """Next message and the descriptors sent with it; ``ChannelClosed`` on EOF."""
    header, fds, _, _ = socket.recv_fds(sock, _LENGTH.size, MAX_FDS)
    if not header:
        raise ChannelClosed("control channel closed")
    header += _receive_exactly(sock, _LENGTH.size - len(header))
    (length,) = _LENGTH.unpack(header)
    if length > MAX_FRAME_BYTES:
        raise ValueError(f"control frame of {length} bytes exceeds {MAX_FRAME_BYTES}")
    return json.loads(_receive_exactly(sock, length)), fds


def _receive_exactly(sock: socket.socket, count: int) -> bytes:
    chunks, remaining = [], count
    while remaining:
        chunk = sock.recv(min(remaining, 1 << 20))
        if not chunk:
            raise ChannelClosed("control channel closed")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)
