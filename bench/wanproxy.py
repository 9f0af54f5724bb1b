#!/usr/bin/env python3
"""bench/wanproxy.py — a small fault-injecting TCP proxy that makes a loopback
endpoint look like one across a WAN link.

    bench/wanproxy.py --listen 9000 --target 127.0.0.1:4568 [--delay-ms 40] [--mbit 200]

Listens on 127.0.0.1:PORT (--bind to change) and forwards every connection to
HOST:PORT, with:

  * one-way latency: every byte is delivered --delay-ms after the proxy read
    it, in each direction (a request/response round trip gains 2 x delay),
    order preserved; a new connection's first bytes also wait one round
    trip, the TCP handshake that the proxy's kernel answered locally
    (--no-handshake: not);
  * a bandwidth limit per direction (--mbit, megabits/s; 0 = none): a token
    bucket (GCRA) with --burst-kb of burst shared by all connections, as one
    link would be; a chunk leaves when the bucket allows it and arrives
    --delay-ms later;
  * a bounded amount of data in flight per connection and direction
    (--window-kb): when that much is queued the proxy stops reading from the
    sender, so TCP flow control pushes back as it does on a real path;
  * SIGUSR1 cuts every open connection at once (both sockets aborted, which
    sends RST): new connections are accepted as usual;
  * SIGUSR2 prints counters on stderr; SIGTERM/SIGINT print them and exit.

Only the Python standard library (asyncio). Each connection costs two small
tasks per direction; data moves in chunks of up to --chunk-kb (default 256)
so the proxy spends a few hundred wake-ups per second at 200 Mbit/s.
"""

import argparse
import asyncio
import collections
import signal
import socket
import sys
import time


EOF = object()  # end-of-stream markers in a pipe's queue
RST = object()


class Link:
    """One direction of the WAN link: a token bucket shared by every
    connection (GCRA: theoretical arrival time + burst tolerance)."""

    def __init__(self, mbit, burst_bytes):
        self.rate = mbit * 1e6 / 8 if mbit > 0 else 0.0  # bytes/s
        self.tau = burst_bytes / self.rate if self.rate else 0.0
        self.tat = 0.0
        self.bytes = 0

    def depart(self, now, n):
        """The time a chunk of n bytes read at `now` leaves the link's
        sender side, and account for it."""
        self.bytes += n
        if not self.rate:
            return now
        send = max(now, self.tat - self.tau)
        self.tat = max(send, self.tat) + n / self.rate
        return send


class Pipe:
    """Moves bytes from one socket to another through a delay line."""

    def __init__(self, proxy, conn, reader, writer, link, label):
        self.proxy, self.conn = proxy, conn
        self.reader, self.writer = reader, writer
        self.link, self.label = link, label
        self.queue = collections.deque()  # (deliver_at, bytes | EOF | RST)
        self.queued = 0
        self.has_data = asyncio.Event()
        self.has_room = asyncio.Event()
        self.has_room.set()
        self.not_before = 0.0  # a real sender could not send before this

    async def read_loop(self):
        loop = asyncio.get_running_loop()
        p = self.proxy
        end = EOF
        try:
            while True:
                if self.queued >= p.window:
                    self.has_room.clear()
                    await self.has_room.wait()
                data = await self.reader.read(p.chunk)
                if not data:
                    break
                t = self.link.depart(max(loop.time(), self.not_before), len(data)) + p.delay
                self.queue.append((t, data))
                self.queued += len(data)
                self.has_data.set()
        except (ConnectionError, OSError):
            end = RST
        except asyncio.CancelledError:
            return
        # the end of the stream travels behind its data, like a FIN or a RST
        self.queue.append((loop.time() + p.delay, end))
        self.has_data.set()

    async def write_loop(self):
        loop = asyncio.get_running_loop()
        try:
            while True:
                if not self.queue:
                    self.has_data.clear()
                    await self.has_data.wait()
                    continue
                t, data = self.queue[0]
                dt = t - loop.time()
                if dt > 0.0005:
                    await asyncio.sleep(dt)
                    continue
                self.queue.popleft()
                if data is EOF:
                    if self.writer.can_write_eof():
                        self.writer.write_eof()
                    self.conn.half_closed()
                    return
                if data is RST:
                    self.conn.close(abort=True)
                    return
                self.queued -= len(data)
                self.writer.write(data)
                # coalesce what is already due into the same drain
                while (self.queue and isinstance(self.queue[0][1], bytes)
                       and self.queue[0][0] <= loop.time()):
                    _, more = self.queue.popleft()
                    self.queued -= len(more)
                    self.writer.write(more)
                if self.queued < self.proxy.window:
                    self.has_room.set()
                await self.writer.drain()
        except (ConnectionError, OSError):
            # the receiver is gone: drop what was on the way to it; its
            # reset reaches the other side through the other pipe
            self.queue.clear()
            self.queued = 0
            self.has_room.set()
            self.conn.half_closed()
        except asyncio.CancelledError:
            pass


class Conn:
    def __init__(self, proxy, cr, cw, sr, sw):
        self.proxy = proxy
        self.writers = (cw, sw)
        self.up = Pipe(proxy, self, cr, sw, proxy.up, "up")
        self.down = Pipe(proxy, self, sr, cw, proxy.down, "down")
        self.halves = 0
        self.closed = False
        self.tasks = []

    def start(self):
        if self.proxy.handshake:
            # The client's connect() returned at once (the proxy's kernel
            # answered it); over the WAN the handshake takes a round trip
            # before the first byte can leave.
            self.up.not_before = asyncio.get_running_loop().time() + 2 * self.proxy.delay
        for p in (self.up, self.down):
            self.tasks.append(asyncio.ensure_future(p.read_loop()))
            self.tasks.append(asyncio.ensure_future(p.write_loop()))

    def half_closed(self):
        self.halves += 1
        if self.halves == 2:
            self.close()

    def close(self, abort=False):
        if self.closed:
            return
        self.closed = True
        self.proxy.conns.discard(self)
        for w in self.writers:
            try:
                if abort:
                    w.transport.abort()
                else:
                    w.close()
            except Exception:
                pass
        cur = asyncio.current_task()
        for t in self.tasks:
            if t is not cur:
                t.cancel()


class Proxy:
    def __init__(self, a):
        self.target_host, port = a.target.rsplit(":", 1)
        self.target_port = int(port)
        self.delay = a.delay_ms / 1000.0
        self.chunk = a.chunk_kb * 1024
        self.window = a.window_kb * 1024
        self.handshake = not a.no_handshake
        self.up = Link(a.mbit, a.burst_kb * 1024)    # client -> target
        self.down = Link(a.mbit, a.burst_kb * 1024)  # target -> client
        self.conns = set()
        self.accepted = 0
        self.refused = 0
        self.cuts = 0
        self.cut_conns = 0
        self.t0 = time.monotonic()

    async def handle(self, cr, cw):
        self.accepted += 1
        try:
            sr, sw = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError as e:
            self.refused += 1
            print(f"wanproxy: cannot reach {self.target_host}:{self.target_port}: {e}", file=sys.stderr)
            cw.transport.abort()
            return
        for w in (cw, sw):
            s = w.get_extra_info("socket")
            if s is not None:
                try:
                    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                except OSError:
                    pass
        c = Conn(self, cr, cw, sr, sw)
        self.conns.add(c)
        c.start()

    def cut_all(self):
        n = len(self.conns)
        self.cuts += 1
        self.cut_conns += n
        for c in list(self.conns):
            c.close(abort=True)
        print(f"wanproxy: SIGUSR1: cut {n} connections", file=sys.stderr, flush=True)

    def stats(self):
        el = time.monotonic() - self.t0
        return (f"wanproxy: {el:.1f} s, {self.accepted} connections ({len(self.conns)} open, "
                f"{self.refused} target refused), up {self.up.bytes} bytes, down {self.down.bytes} bytes, "
                f"{self.cuts} cuts ({self.cut_conns} connections cut)")


async def main():
    ap = argparse.ArgumentParser(description="fault-injecting TCP proxy: latency, bandwidth, cuts")
    ap.add_argument("--listen", type=int, required=True, help="local port to listen on")
    ap.add_argument("--bind", default="127.0.0.1", help="local address (default 127.0.0.1)")
    ap.add_argument("--target", required=True, help="HOST:PORT to forward to")
    ap.add_argument("--delay-ms", type=float, default=40.0, help="one-way latency, each direction (40)")
    ap.add_argument("--mbit", type=float, default=200.0, help="bandwidth per direction in Mbit/s, 0 = none (200)")
    ap.add_argument("--burst-kb", type=int, default=64, help="token bucket burst in KiB (64)")
    ap.add_argument("--window-kb", type=int, default=4096,
                    help="most bytes in flight per connection and direction (4096)")
    ap.add_argument("--no-handshake", action="store_true",
                    help="do not charge a new connection the round trip of its TCP handshake")
    ap.add_argument("--chunk-kb", type=int, default=256, help="largest read in KiB (256)")
    a = ap.parse_args()
    p = Proxy(a)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGUSR1, p.cut_all)
    loop.add_signal_handler(signal.SIGUSR2, lambda: print(p.stats(), file=sys.stderr, flush=True))
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    srv = await asyncio.start_server(p.handle, a.bind, a.listen, reuse_address=True, backlog=128)
    print(f"wanproxy: {a.bind}:{a.listen} -> {a.target}, {a.delay_ms:g} ms each way, "
          f"{a.mbit:g} Mbit/s each way", file=sys.stderr, flush=True)
    await stop.wait()
    srv.close()
    for c in list(p.conns):
        c.close(abort=True)
    print(p.stats(), file=sys.stderr, flush=True)


if __name__ == "__main__":
    asyncio.run(main())
