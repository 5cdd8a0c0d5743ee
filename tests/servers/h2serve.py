"""h2serve: HTTP/2 for a test server written as an http.server handler.

A TLS connection whose client chose h2 (ALPN) is served here: each
stream's request is handed to a new instance of the server's own handler
class, on a thread of its own, as if it had come over HTTP/1.1, and the
HTTP/1.1 answer the handler writes (Content-Length or chunked) leaves as
the stream's HEADERS and DATA frames as it is written, so a watch streams.
A handler that shuts its connection down closes the whole connection, as
a server that drops a connection does. Flow control is the peer's: a
stream's writer waits for window. Uses the h2 package (Debian:
python3-h2), pure Python, so a python3 other than the system's may take
it from there; available() says whether it can be imported.
"""
import io, os, socket, sys, threading

try:
    import h2.config, h2.connection, h2.errors, h2.events, h2.exceptions
except ImportError:
    # Debian's python3-h2 installs for the system's python3; a python3 of
    # another install on PATH (pyenv) can use it as it is
    sys.path.append(os.path.join(os.sep, "usr", "lib", "python3", "dist-packages"))
    try:
        import h2.config, h2.connection, h2.errors, h2.events, h2.exceptions
    except ImportError:
        h2 = None


def available():
    return h2 is not None


def negotiated(sock):
    """whether the client of this TLS socket chose HTTP/2"""
    try:
        return h2 is not None and sock.selected_alpn_protocol() == "h2"
    except AttributeError:
        return False


class Gone(OSError):
    """the stream or its connection is over: the handler stops writing"""


class Headers(dict):
    """a request's headers by lower-case name, as handlers read them"""

    def get(self, name, default=None):
        return dict.get(self, name.lower(), default)


class Connection:
    """one HTTP/2 connection: the reading loop, which also answers each
    request that takes no time, and the lock every frame written goes
    under. A request that may take long (blocking says which: a watch, one
    to be delayed) is answered on a thread of its own, as is an answer
    that must wait for window while another is being received."""

    def __init__(self, sock, handler, server, address, blocking=None):
        self.sock, self.handler, self.server, self.address = sock, handler, server, address
        self.blocking = blocking or (lambda method, path: True)
        self.c = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=False, header_encoding="utf-8", validate_inbound_headers=False,
            validate_outbound_headers=False, normalize_inbound_headers=False,
            normalize_outbound_headers=False))
        self.lock = threading.Lock()
        self.window = threading.Condition(self.lock)   # notified on window and on ends
        self.requests = {}      # stream id -> (headers, body) while it is being received
        self.pending = []       # requests received, to be answered by the reading loop
        self.reset = set()      # streams the client reset
        self.closed = False
        self.reader = None

    def flush(self):
        """what the state machine has to send, sent (lock held)"""
        out = self.c.data_to_send()
        if out and not self.closed:
            try:
                self.sock.sendall(out)
            except OSError:
                self.closed = True
                self.window.notify_all()

    def run(self):
        # as Go's servers: frames leave at once, not held back by Nagle's
        # algorithm for the client's delayed ACK (40 ms a request)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = threading.current_thread()
        with self.lock:
            self.c.initiate_connection()
            self.flush()
        # threads in the loop cost half the server's time per request
        while self.pump():
            while self.pending:
                self.serve(*self.pending.pop(0))
        try:
            self.sock.close()
        except OSError:
            pass

    def pump(self):
        """reads what came and takes its events in; False once the
        connection is over. Called by the reading loop, and by an answer
        of the loop's own that waits for window."""
        try:
            data = self.sock.recv(1 << 16)
        except OSError:
            data = b""
        with self.lock:
            if not data:
                self.closed = True
            else:
                try:
                    for ev in self.c.receive_data(data):
                        self.event(ev)
                except h2.exceptions.ProtocolError:
                    self.closed = True
                self.flush()
            if self.closed:
                self.window.notify_all()
            return not self.closed

    def event(self, ev):
        """one event of the connection (lock held)"""
        if isinstance(ev, h2.events.RequestReceived):
            self.requests[ev.stream_id] = (ev.headers, bytearray())
        elif isinstance(ev, h2.events.DataReceived):
            if ev.stream_id in self.requests:
                self.requests[ev.stream_id][1].extend(ev.data)
            self.c.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        elif isinstance(ev, h2.events.StreamEnded):
            req = self.requests.pop(ev.stream_id, None)
            if req:
                p = dict(kv for kv in req[0] if kv[0] in (":method", ":path"))
                if self.blocking(p.get(":method", "GET"), p.get(":path", "/")):
                    threading.Thread(target=self.serve, args=(ev.stream_id,) + req,
                                     daemon=True).start()
                else:
                    self.pending.append((ev.stream_id,) + req)
        elif isinstance(ev, h2.events.StreamReset):
            self.reset.add(ev.stream_id)
            self.requests.pop(ev.stream_id, None)
            self.window.notify_all()
        elif isinstance(ev, (h2.events.WindowUpdated, h2.events.RemoteSettingsChanged)):
            self.window.notify_all()
        elif isinstance(ev, h2.events.ConnectionTerminated):
            self.closed = True
            self.window.notify_all()

    def serve(self, sid, headers, body):
        """the stream's request, handled by the server's handler class"""
        pseudo = {k: v for k, v in headers if k.startswith(":")}
        hs = Headers()
        for k, v in headers:
            if not k.startswith(":"):
                hs.setdefault(k.lower(), v)
        if body:
            hs["content-length"] = str(len(body))
        if ":authority" in pseudo:
            hs.setdefault("host", pseudo[":authority"])
        h = self.handler.__new__(self.handler)   # not __init__: that would serve a socket
        h.server, h.client_address, h.request = self.server, self.address, self.sock
        h.connection = Dropper(self)
        h.command, h.path = pseudo.get(":method", "GET"), pseudo.get(":path", "/")
        h.request_version = "HTTP/1.1"
        h.requestline = "%s %s HTTP/2" % (h.command, h.path)
        h.headers, h.close_connection, h.http2 = hs, False, True
        h.rfile = io.BytesIO(bytes(body))
        out = h.wfile = Answer(self, sid)
        try:
            getattr(h, "do_" + h.command)()
            out.end()
        except Gone:
            pass
        except Exception:
            with self.lock:
                if not self.closed and sid not in self.reset:
                    self.c.reset_stream(sid, h2.errors.ErrorCodes.INTERNAL_ERROR)
                    self.flush()
            raise


class Dropper:
    """what a handler sees as its connection: the TLS socket's peer
    certificate, and shutdown, which closes the whole connection"""

    def __init__(self, conn):
        self.conn = conn

    def getpeercert(self, *a):
        return self.conn.sock.getpeercert(*a)

    def shutdown(self, how):
        with self.conn.lock:
            self.conn.closed = True
            self.conn.window.notify_all()
        try:
            self.conn.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class Answer(io.RawIOBase):
    """a stream's answer as the handler writes it, HTTP/1.1 bytes: the
    head becomes HEADERS, the body (by Content-Length or chunked) DATA"""

    def __init__(self, conn, sid):
        self.conn, self.sid = conn, sid
        self.buf = bytearray()
        self.head_sent = self.ended = False
        self.chunked, self.left = False, None

    def writable(self):
        return True

    def write(self, data):
        self.buf.extend(data)
        if not self.head_sent:
            i = self.buf.find(b"\r\n\r\n")
            if i < 0:
                return len(data)
            self.head(bytes(self.buf[:i]).decode("iso-8859-1"))
            del self.buf[:i + 4]
        if self.chunked:
            self.unchunk()
        elif self.buf:
            part, self.buf = bytes(self.buf), bytearray()
            if self.left is not None:
                self.left -= len(part)
            self.send(part, self.left is not None and self.left <= 0)
        return len(data)

    def head(self, text):
        lines = text.split("\r\n")
        code = lines[0].split(" ", 2)[1]
        hdrs = [(":status", code)]
        for line in lines[1:]:
            k, _, v = line.partition(":")
            k, v = k.strip().lower(), v.strip()
            if k == "transfer-encoding":
                self.chunked = v.lower() == "chunked"
            elif k in ("connection", "keep-alive", "proxy-connection", "upgrade"):
                continue
            else:
                if k == "content-length":
                    self.left = int(v)
                hdrs.append((k, v))
        self.head_sent = True
        with self.conn.lock:
            self.check()
            empty = self.left == 0 and not self.chunked
            self.conn.c.send_headers(self.sid, hdrs, end_stream=empty)
            self.ended = empty
            # a body of known length follows at once: HEADERS and DATA
            # leave in one write; a stream's headers leave now
            if self.chunked or empty:
                self.conn.flush()

    def unchunk(self):
        """the complete chunks of buf, sent; the last one ends the stream"""
        while True:
            i = self.buf.find(b"\r\n")
            if i < 0:
                return
            n = int(bytes(self.buf[:i]).split(b";")[0], 16)
            if len(self.buf) < i + 2 + n + 2:
                return
            part = bytes(self.buf[i + 2:i + 2 + n])
            del self.buf[:i + 2 + n + 2]
            self.send(part, n == 0)
            if n == 0:
                return

    def check(self):
        """raises Gone when the stream can carry nothing more (lock held)"""
        if self.conn.closed or self.sid in self.conn.reset:
            raise Gone("the stream is over")

    def send(self, data, last):
        view = memoryview(data)
        while True:
            with self.conn.lock:
                self.check()
                if self.ended:
                    return
                room = min(self.conn.c.local_flow_control_window(self.sid),
                           self.conn.c.max_outbound_frame_size)
                starved = room <= 0 and len(view) > 0
                if not starved:
                    part, view = view[:room], view[room:]
                    end = last and not len(view)
                    self.conn.c.send_data(self.sid, bytes(part), end_stream=end)
                    self.ended = end
                    self.conn.flush()
                    if not len(view):
                        return
                    continue
                if threading.current_thread() is not self.conn.reader:
                    self.conn.window.wait(1.0)
                    continue
            # the reading loop's own answer: the window comes by reading,
            # which nobody else does meanwhile
            self.conn.pump()

    def end(self):
        """the handler returned: the stream ends if it has not"""
        if not self.head_sent or self.ended:
            return
        self.send(b"", True)
