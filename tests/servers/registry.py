#!/usr/bin/env python3
"""registry: a loopback HTTP server for addonmake's tests.

  registry.py ROOT [--token T] [--oci-token T] [--tls CERT KEY]

Serves the files under ROOT (ETag, If-None-Match -> 304), counts requests,
and injects faults. Prints its port on the first line of stdout. Control:
  GET /__count[?path=/x]          requests served (of one path)
  GET /__authed?path=/x           those of them that carried an Authorization
  GET /__busy                     the most requests it ever had in hand at once
  GET /__fault?path=/x&mode=M&n=N the next N requests of /x: M is
      500 (503 Service Unavailable), truncate (half the body, then the
      connection drops), corrupt (other bytes, same length), slow
      (the answer waits &ms=MS, 1000 by default) or redirect (302 to
      &to=/y)
  GET /__proxied                  requests that came through it as an HTTP
                                  proxy (an absolute URL in the request line)
With --token, every other request needs "Authorization: Bearer T" (401
with a WWW-Authenticate challenge otherwise). With --oci-token, requests
under /v2/ need it, and a 401 carries the OCI Bearer challenge whose realm,
/token, hands it out. Files under ROOT/v2/ are an OCI registry's: a
manifest is served as application/vnd.oci.image.manifest.v1+json. With
--tls, it speaks HTTPS with that certificate and key. Loopback only; it stops with its
parent's signal, when its parent exits, or after 10 minutes.
"""
import hashlib, http.server, os, socket, sys, threading, urllib.parse

ROOT = sys.argv[1]
TOKEN = sys.argv[sys.argv.index("--token") + 1] if "--token" in sys.argv else None
OCI_TOKEN = sys.argv[sys.argv.index("--oci-token") + 1] if "--oci-token" in sys.argv else None
count, authed, faults, lock = {}, {}, {}, threading.Lock()
proxied = [0]
busy = {"now": 0, "most": 0}


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def text(self, code, body, extra=()):
        b = body.encode()
        self.send_response(code)
        for k, v in extra:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)

    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(u.query)
        if u.scheme:
            # asked as a proxy: the file named by the URL's path is served
            # whatever its host, which need not exist
            with lock:
                proxied[0] += 1
        if u.path == "/__count":
            with lock:
                n = count.get(q["path"][0], 0) if "path" in q else sum(count.values())
            return self.text(200, str(n))
        if u.path == "/__authed":
            with lock:
                return self.text(200, str(authed.get(q["path"][0], 0)))
        if u.path == "/__proxied":
            with lock:
                return self.text(200, str(proxied[0]))
        if u.path == "/__busy":
            with lock:
                return self.text(200, str(busy["most"]))
        if u.path == "/__fault":
            with lock:
                faults[q["path"][0]] = [q["mode"][0], int(q.get("n", ["1"])[0]),
                                        int(q.get("ms", ["1000"])[0]), q.get("to", ["/"])[0]]
            return self.text(200, "ok")
        with lock:
            busy["now"] += 1
            busy["most"] = max(busy["most"], busy["now"])
        try:
            self.serve(u)
        finally:
            with lock:
                busy["now"] -= 1

    def serve(self, u):
        with lock:
            count[u.path] = count.get(u.path, 0) + 1
            if self.headers.get("Authorization"):
                authed[u.path] = authed.get(u.path, 0) + 1
            f, mode = faults.get(u.path), None
            if f and f[1] > 0:
                f[1] -= 1
                mode, ms, to = f[0], f[2], f[3]
        if TOKEN and self.headers.get("Authorization") != "Bearer " + TOKEN:
            return self.text(401, "unauthorized", [("WWW-Authenticate", 'Bearer realm="test"')])
        if u.path == "/token" and OCI_TOKEN:
            return self.text(200, '{"token": "%s"}' % OCI_TOKEN, [("Content-Type", "application/json")])
        if OCI_TOKEN and u.path.startswith("/v2/") and \
                self.headers.get("Authorization") != "Bearer " + OCI_TOKEN:
            repo = u.path[4:].split("/manifests/")[0].split("/blobs/")[0].split("/tags/")[0]
            realm = "http://127.0.0.1:%d/token" % self.server.server_address[1]
            chal = 'Bearer realm="%s",service="addonmake-test",scope="repository:%s:pull"' % (realm, repo)
            return self.text(401, '{"errors":[{"code":"UNAUTHORIZED"}]}', [("WWW-Authenticate", chal)])
        if mode == "500":
            return self.text(503, "try again")
        if mode == "redirect":
            return self.text(302, "moved", [("Location", to)])
        if mode == "slow":
            __import__("time").sleep(ms / 1000.0)
        path = os.path.normpath(os.path.join(ROOT, u.path.lstrip("/")))
        if not path.startswith(os.path.abspath(ROOT)) or not os.path.isfile(path):
            return self.text(404, "not found")
        data = open(path, "rb").read()
        if mode == "corrupt":
            data = bytes(b ^ 0x5A for b in data)
        etag = '"%s"' % hashlib.sha1(data).hexdigest()
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("ETag", etag)
        if "/manifests/" in u.path:
            self.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if mode == "truncate":
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        self.wfile.write(data)


def watchdog(parent, deadline):
    """ends the server with the test that started it, and after 10 minutes
    in any case: a test server stops by itself"""
    import time
    while os.getppid() == parent and time.time() < deadline:
        time.sleep(0.2)
    os._exit(0)


threading.Thread(target=watchdog, args=(os.getppid(), __import__("time").time() + 600),
                 daemon=True).start()
# a listen backlog of 5 (socketserver's default) drops the SYNs of a
# client that opens more connections at once, and each waits a second
# for its retransmission; real servers listen with a large backlog
http.server.ThreadingHTTPServer.request_queue_size = 128
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
srv.daemon_threads = True
if "--tls" in sys.argv:
    import ssl
    i = sys.argv.index("--tls")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[i + 1], sys.argv[i + 2])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
try:
    sys.stdout.write("%d\n" % srv.server_address[1])
    sys.stdout.flush()
    # the parent reads one line and closes the pipe: nothing more goes there
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
except BrokenPipeError:
    pass
srv.serve_forever()
