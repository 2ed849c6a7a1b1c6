"""gunicorn's threaded worker, made safe against slow clients.

gunicorn's `gthread` worker hands a connection to one of its few threads as soon as the
first byte arrives, and the thread then reads the rest of the request at whatever pace
the client sends it: ten clients sending their headers one line a second hold every
thread of a worker, and every other client waits. This worker reads each request in its
main loop instead, without blocking, alongside hundreds of other connections, and hands
it to a thread only once the whole of it (headers and body) is in memory, as a buffering
proxy in front would. A thread's time then goes on running the application only.

A connection that has not sent a whole request within EYE_REQUEST_READ_TIMEOUT seconds
(of connecting, or, kept alive, of the first byte of its next request) is answered 408
and closed; one that sent nothing at all is closed quietly. A request too large to
buffer is handed over as soon as its headers are in, so that the application answers it
413 without reading the body.
"""

import errno
import selectors
import socket
import time
from functools import partial

from gunicorn import http
from gunicorn.workers.gthread import TConn, ThreadWorker

from eye import settings

# Past this many bytes of headers a request is refused with 431 without a thread:
# gunicorn's own limits (request line and header fields) are far below it.
MAX_HEADER_BYTES = 64 * 1024
READ_SIZE = 64 * 1024

TIMEOUT_RESPONSE = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
TOO_LARGE_RESPONSE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n"
    b"Content-Length: 0\r\n\r\n"
)


# More digits than any Content-Length this worker would wait for: int() refuses past 4,300,
# and an exception here would end the worker with every request it holds.
MAX_LENGTH_DIGITS = 18


class RequestScan:
    """How far a request being buffered has been looked at, so that each byte of it is
    looked at about once however the client splits it up: a body of a million one-byte
    chunks, sent a few bytes at a time, must not cost a scan of all that came before at
    every piece (that kept a worker's loop busy for seconds)."""

    def __init__(self) -> None:
        # Bytes already searched for the blank line that ends the headers, and where it
        # starts once found.
        self.searched = 0
        self.header_end = -1
        # Framing read from the headers: a length, chunks, or none to wait for (a request
        # without a body, or framing gunicorn's parser refuses at once).
        self.length: int | None = None
        self.chunked = False
        # Where the next chunk's size line starts, from the start of the body.
        self.chunk_at = 0
        # An HTTP/1.1 client that waits for "100 Continue" before it sends the body.
        self.expects_continue = False

    def complete(self, data: bytes | bytearray, *, max_body: int) -> bool:
        """Whether `data` holds a whole HTTP/1.x request, or as much of one as will be
        buffered: its headers, and its body by Content-Length or chunked framing. A
        request whose framing is malformed counts as complete: gunicorn's parser refuses
        it at once."""
        if self.header_end < 0:
            end = data.find(b"\r\n\r\n", max(0, self.searched - 3))
            self.searched = len(data)
            if end < 0:
                return False
            self.header_end = end
            self._read_framing(bytes(data[:end]))
        body_start = self.header_end + 4
        if self.chunked:
            return len(data) - body_start > max_body or self._chunks_complete(data, body_start)
        if self.length is None:
            return True
        return self.length > max_body or len(data) - body_start >= self.length

    def _read_framing(self, head: bytes) -> None:
        lengths: list[bytes] = []
        request_line, *lines = head.split(b"\r\n")
        for line in lines:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                lengths.append(value.strip())
            elif name == b"transfer-encoding":
                self.chunked = self.chunked or b"chunked" in value.lower()
            elif name == b"expect" and request_line.endswith(b"HTTP/1.1"):
                self.expects_continue |= value.strip().lower() == b"100-continue"
        if self.chunked or len(lengths) != 1:
            return
        if lengths[0].isdigit() and len(lengths[0]) <= MAX_LENGTH_DIGITS:
            self.length = int(lengths[0])

    def _chunks_complete(self, data: bytes | bytearray, body_start: int) -> bool:
        position = body_start + self.chunk_at
        while True:
            line_end = data.find(b"\r\n", position)
            if line_end < 0:
                break
            size_text = bytes(data[position:line_end]).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                return True
            if size == 0:
                # The last chunk; then trailer lines, if any, up to an empty line.
                rest = data[line_end + 2 :]
                return rest.startswith(b"\r\n") or b"\r\n\r\n" in rest
            following = line_end + 2 + size + 2
            if following > len(data):
                break
            position = following
        self.chunk_at = position - body_start
        return False


def without_expect_continue(data: bytes) -> bytes:
    """The request without its `Expect: 100-continue` header: this worker already sent
    the 100 Continue, so gunicorn must not send a second one once the body is in."""
    end = data.find(b"\r\n\r\n")
    lines = data[:end].split(b"\r\n")
    kept = [lines[0]] + [
        line for line in lines[1:] if line.partition(b":")[0].strip().lower() != b"expect"
    ]
    return b"\r\n".join(kept) + data[end:]


class BufferingThreadWorker(ThreadWorker):
    """gthread, with every request read in full before a thread takes it."""

    def init_process(self) -> None:
        self.reading: dict[TConn, float] = {}
        self.read_timeout = settings.EYE_REQUEST_READ_TIMEOUT
        self.write_timeout = settings.EYE_RESPONSE_WRITE_TIMEOUT or None
        self.max_body = settings.EYE_MAX_BODY_BYTES
        super().init_process()

    def handle_request(self, req: http.Request, conn: TConn) -> bool:
        # gunicorn writes answers on a blocking socket: a client that stops reading (a
        # stalled download, or one that never reads at all) would hold this thread for
        # ever. With a timeout, a write that makes no progress for that long ends the
        # request; the answer's close() still runs (an export lets go of its slot).
        conn.sock.settimeout(self.write_timeout)
        try:
            return super().handle_request(req, conn)
        except TimeoutError:
            self.log.info(
                "closed a connection from %s that took no bytes of its answer for %g s",
                conn.client[0] if conn.client else "?",
                self.write_timeout,
            )
            return False

    def accept(self, listener: socket.socket) -> None:
        if self.cfg.is_ssl:
            # TLS is the proxy's job here; a TLS socket cannot be read ahead like this.
            super().accept(listener)
            return
        try:
            client_sock, client_addr = listener.accept()
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = TConn(self.cfg, client_sock, client_addr, listener.getsockname())
        self.read_request(conn)

    def on_client_socket_readable(self, conn: TConn, client: socket.socket) -> None:
        # A kept-alive connection starts its next request: read it in full first too.
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        if self.cfg.is_ssl:
            self.enqueue_req(conn)
            return
        self.read_request(conn)

    def read_request(self, conn: TConn) -> None:
        conn.sock.setblocking(False)
        # A bytearray grows in place: a request sent in many small pieces is not copied
        # whole at each one.
        conn.buffered = bytearray()
        conn.scan = RequestScan()
        conn.continued = False
        self.reading[conn] = time.monotonic() + self.read_timeout
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.on_request_bytes, conn))

    def on_request_bytes(self, conn: TConn, client: socket.socket) -> None:
        try:
            data = client.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self.drop_reading(conn)
            return
        conn.buffered += data
        if conn.scan.complete(conn.buffered, max_body=self.max_body):
            self.hand_over(conn)
        elif conn.scan.header_end < 0:
            if len(conn.buffered) > MAX_HEADER_BYTES:
                self.drop_reading(conn, answer=TOO_LARGE_RESPONSE)
        elif not conn.continued and conn.scan.expects_continue:
            # The client waits for this before it sends the body.
            conn.continued = True
            conn.buffered = bytearray(without_expect_continue(bytes(conn.buffered)))
            # The headers are shorter by the line taken out: looked at again from the start.
            conn.scan = RequestScan()
            try:
                client.send(b"HTTP/1.1 100 Continue\r\n\r\n")
            except OSError:
                self.drop_reading(conn)

    def hand_over(self, conn: TConn) -> None:
        self.poller.unregister(conn.sock)
        del self.reading[conn]
        if conn.parser is None:
            conn.parser = http.get_parser(self.cfg, conn.sock, conn.client)
            conn.initialized = True
        conn.parser.unreader.unread(bytes(conn.buffered))
        conn.buffered = bytearray()
        conn.data_ready = True
        conn.sock.setblocking(True)
        self.enqueue_req(conn)

    def drop_reading(self, conn: TConn, *, answer: bytes | None = None) -> None:
        self.poller.unregister(conn.sock)
        del self.reading[conn]
        self.nr_conns -= 1
        if answer is not None:
            try:
                conn.sock.send(answer)
            except OSError:
                pass
        conn.close()

    def murder_pending(self) -> None:
        super().murder_pending()
        now = time.monotonic()
        for conn, deadline in list(self.reading.items()):
            if now >= deadline:
                # Nothing at all on this connection yet: an idle one, closed quietly.
                self.drop_reading(conn, answer=TIMEOUT_RESPONSE if conn.buffered else None)
        if not self.alive:
            # Stopping: a request not yet begun will not be served by this worker.
            for conn in [c for c in self.reading if not c.buffered]:
                self.drop_reading(conn)
