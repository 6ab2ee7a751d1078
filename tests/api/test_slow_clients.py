"""Slow and idle clients do not hold the server.

A request's line and headers must arrive within `header_timeout` seconds, and
its body must average `body_min_rate` bytes per second once that time has
passed; otherwise the connection is closed. Near its connection limit the
server closes connections that have waited more than a quarter of a second for a
request. So a few hundred connections trickling header lines from other
addresses do not keep a normal request waiting for even a second.

Every load loop here is bounded in connections and time, and only talks to
loopback addresses (127.0.0.1 to 127.0.0.7)."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import requests

from cp_helpers import db_url_for, start_server

ATTACKERS = [f"127.0.0.{i}" for i in range(2, 8)]


def serve(tmp_path, name, **settings):
    ini = tmp_path / f"{name}.ini"
    ini.write_text("[chatpay]\n" + "".join(f"{k} = {v}\n" for k, v in settings.items()))
    return start_server(tmp_path, db_url_for(tmp_path / (name + ".db")), name=name,
                        extra_args=["--config", str(ini)])


def closed_within(sock: socket.socket, seconds: float, trickle: bytes | None = None,
                  every: float = 0.5) -> float | None:
    """Seconds until the server closes sock (None if it stays open that
    long), sending `trickle` every `every` seconds meanwhile."""
    start = time.monotonic()
    next_send = start
    sock.settimeout(0.1)
    while time.monotonic() - start < seconds:
        if trickle is not None and time.monotonic() >= next_send:
            try:
                sock.sendall(trickle)
            except OSError:
                return time.monotonic() - start
            next_send += every
        try:
            data = sock.recv(4096)
        except socket.timeout:
            continue
        except OSError:
            return time.monotonic() - start
        if not data:
            return time.monotonic() - start
    return None


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """A server with a 2 s header deadline and a 1000 B/s body minimum."""
    tmp = tmp_path_factory.mktemp("slow")
    srv = serve(tmp, "quick", header_timeout=2, body_min_rate=1000)
    yield srv
    assert srv.stop() == 0, srv.tail()


def test_trickled_headers_are_cut_at_the_deadline(quick):
    with socket.create_connection(("127.0.0.1", quick.port), timeout=5) as s:
        s.sendall(b"GET /livez HTTP/1.1\r\n")
        t = closed_within(s, 8, trickle=b"X-Slow: 1\r\n", every=0.5)
    assert t is not None, "a connection trickling its headers was kept open"
    assert 1.5 <= t <= 4.0, t


def test_silent_connection_is_cut_at_the_deadline(quick):
    with socket.create_connection(("127.0.0.1", quick.port), timeout=5) as s:
        t = closed_within(s, 8)
    assert t is not None and 1.5 <= t <= 4.0, t


def test_keep_alive_waits_header_timeout_for_the_next_request(quick):
    with socket.create_connection(("127.0.0.1", quick.port), timeout=5) as s:
        for _ in range(3):  # three requests, one second apart: each answered
            s.sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")
            data = s.recv(4096)
            assert data.startswith(b"HTTP/1.1 200"), data[:100]
            time.sleep(1.0)
        t = closed_within(s, 8)  # then nothing: closed after the deadline
    assert t is not None and 0.5 <= t <= 4.0, t


def test_slow_body_is_cut(quick):
    with socket.create_connection(("127.0.0.1", quick.port), timeout=5) as s:
        s.sendall(b"PUT /api/v2/integration HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 60000\r\n\r\n")
        t = closed_within(s, 10, trickle=b" " * 100, every=0.5)  # 200 B/s
    assert t is not None, "a body trickling at 200 B/s was kept"
    assert 1.5 <= t <= 5.0, t


def test_body_at_a_fair_rate_is_answered(quick):
    """60 kB over about 3 s (20 kB/s): slower than the header deadline, but
    above the minimum rate."""
    with socket.create_connection(("127.0.0.1", quick.port), timeout=10) as s:
        s.sendall(b"PUT /api/v2/integration HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 60000\r\nConnection: close\r\n\r\n")
        for _ in range(30):
            s.sendall(b" " * 2000)
            time.sleep(0.1)
        s.settimeout(5)
        data = s.recv(4096)
    # the body arrived whole: the server answered (no key: 401)
    assert data.startswith(b"HTTP/1.1 401"), data[:200]


class Trickler(threading.Thread):
    """`n` connections from the attacker addresses, each sending one more
    header line every `every` seconds and reconnecting when closed, until
    stopped or `limit` seconds have passed (at most `max_connects` connects)."""

    def __init__(self, port, n, every=2.0, limit=30.0, max_connects=5000):
        super().__init__(daemon=True)
        self.port, self.n, self.every, self.limit = port, n, every, limit
        self.max_connects = max_connects
        self.connects = 0
        self.stop_flag = threading.Event()
        self.socks: list[socket.socket | None] = [None] * n

    def open(self, i):
        if self.connects >= self.max_connects:
            return None
        self.connects += 1
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((ATTACKERS[i % len(ATTACKERS)], 0))
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", self.port))
        return s

    def run(self):
        start = time.monotonic()
        sent_at = [0.0] * self.n
        line = 0
        while not self.stop_flag.is_set() and time.monotonic() - start < self.limit:
            now = time.monotonic()
            for i in range(self.n):
                s = self.socks[i]
                if s is None:
                    self.socks[i] = self.open(i)
                    sent_at[i] = 0.0
                    continue
                dead = False
                try:
                    if s.recv(4096, socket.MSG_DONTWAIT) == b"":
                        dead = True
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    dead = True
                if not dead and now - sent_at[i] >= self.every:
                    try:
                        msg = b"GET /livez HTTP/1.1\r\n" if sent_at[i] == 0.0 else b"X-Slow-%d: v\r\n" % line
                        s.send(msg)
                        sent_at[i] = now
                        line += 1
                    except (BlockingIOError, InterruptedError):
                        pass
                    except OSError:
                        dead = True
                if dead:
                    s.close()
                    self.socks[i] = None
            time.sleep(0.05)
        for s in self.socks:
            if s is not None:
                s.close()


def test_a_slow_client_attack_does_not_block_others(tmp_path):
    """300 trickling connections from six addresses against a server that
    takes 200: a normal request from another address is still served in
    under a second, again and again, while the attack runs."""
    srv = serve(tmp_path, "attacked", max_connections=200, per_ip_connections=0)
    attack = Trickler(srv.port, 300, every=2.0, limit=40.0)
    try:
        attack.start()
        time.sleep(3)  # the attack fills the server
        times = []
        for _ in range(8):
            started = time.monotonic()
            try:
                r = requests.get(f"{srv.base_url}/livez", timeout=5,
                                 headers={"Connection": "close"})
                assert r.status_code == 200
                times.append(time.monotonic() - started)
            except requests.RequestException as e:
                times.append(f"failed: {type(e).__name__}")
            time.sleep(1)
        assert all(isinstance(t, float) and t < 1.0 for t in times), times
        assert attack.connects >= 300, attack.connects
    finally:
        attack.stop_flag.set()
        attack.join(timeout=10)
        assert srv.stop() == 0, srv.tail()
    # the server says what it did
    closed = [r for r in srv.log_records() if r.get("msg") == "slow connections closed"]
    assert closed and sum(r["near_limit"] + r["header_timeout"] for r in closed) > 0
