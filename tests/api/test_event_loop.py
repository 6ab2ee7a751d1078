"""Many connections with a request waiting at once are all answered at once.

libmicrohttpd's epoll loop (0.9.75, and later versions too) reads at most
128 events per epoll_wait and, when it got exactly 128, asks again with its
full timeout (the earliest connection timeout) before answering any of them:
an event loop whose connections all have a request waiting, 128 or 256 of
them, stalls until some other event arrives. In a load test with 256
connections split 128 and 128 over two threads, the server answered a few
hundred requests per second instead of tens of thousands. chatpay runs
libmicrohttpd's poll loop, which has no such batch (src/http/acceptor.c).

The test stops the server, sends a request on each of exactly 128 (and 256)
idle keep-alive connections, lets it go on, and expects every answer within
a few seconds (a stall lasts until the connection timeout, set to minutes
here). Only loopback connections, bounded in number and time."""

from __future__ import annotations

import os
import selectors
import signal
import socket
import time

import pytest

from cp_helpers import start_server

REQUEST = b"GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


@pytest.fixture(scope="module")
def one_loop(tmp_path_factory):
    """A server with one event loop thread and no timeouts that would end a stall soon."""
    tmp = tmp_path_factory.mktemp("loop")
    ini = tmp / "loop.ini"
    ini.write_text("[chatpay]\nthreads = 1\nconnection_timeout = 300\nheader_timeout = 300\n")
    srv = start_server(tmp, f"sqlite:{tmp / 'loop.db'}", name="loop",
                       extra_args=["--config", str(ini)])
    yield srv
    assert srv.stop() == 0, srv.tail()


def read_answer(sock: socket.socket, buf: bytearray) -> bool:
    """Read what is there; True once a whole 200 answer (headers and body) is in buf."""
    try:
        data = sock.recv(65536)
    except BlockingIOError:
        return False
    if not data:
        raise AssertionError("the server closed a connection instead of answering")
    buf += data
    head, sep, body = bytes(buf).partition(b"\r\n\r\n")
    if not sep:
        return False
    assert head.startswith(b"HTTP/1.1 200"), head[:40]
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    return len(body) >= length


def answer_all(socks: list[socket.socket], seconds: float) -> int:
    """How many of the sockets get their answer within `seconds` (a request
    was sent on each)."""
    sel = selectors.DefaultSelector()
    bufs = {}
    for s in socks:
        s.setblocking(False)
        bufs[s] = bytearray()
        sel.register(s, selectors.EVENT_READ)
    done = 0
    deadline = time.monotonic() + seconds
    while done < len(socks) and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.1):
            if read_answer(key.fileobj, bufs[key.fileobj]):
                sel.unregister(key.fileobj)
                bufs[key.fileobj] = bytearray()
                done += 1
    sel.close()
    for s in socks:
        s.setblocking(True)
    return done


@pytest.mark.parametrize("count", [128, 256])
def test_requests_waiting_on_every_connection_are_answered_at_once(one_loop, count):
    socks = [socket.create_connection(("127.0.0.1", one_loop.port), timeout=10)
             for _ in range(count)]
    try:
        # every connection accepted and idle (keep-alive) before the burst
        for s in socks:
            s.sendall(REQUEST)
        assert answer_all(socks, 30) == count
        pid = one_loop.proc.pid
        os.kill(pid, signal.SIGSTOP)
        try:
            for s in socks:
                s.sendall(REQUEST)
        finally:
            os.kill(pid, signal.SIGCONT)
        answered = answer_all(socks, 10)
        assert answered == count, (
            f"{answered} of {count} waiting requests answered within 10 s: the event loop stalled")
    finally:
        for s in socks:
            s.close()
