#!/usr/bin/env python3
"""tcpcount: a TCP forwarder that counts connections, for the tests that
check how many connections addonmake opens to the real API server (which
cannot say itself).

  tcpcount.py PORT FILE     forwards each connection made to a free
                            loopback port (printed on the first line) to
                            127.0.0.1:PORT, and writes the number of
                            connections accepted so far to FILE

Bytes pass unchanged both ways (TLS stays end to end). FILE is written
(to a temporary name, then renamed) before a connection's first byte is
forwarded, so a client done with its requests finds its count there.
Exits with its parent, or on SIGTERM.
"""
import os, signal, socket, sys, threading


def pipe(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def main():
    target, path = int(sys.argv[1]), sys.argv[2]
    parent = os.getppid()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(128)
    ls.settimeout(0.2)
    print(ls.getsockname()[1], flush=True)
    n = 0
    while os.getppid() == parent:
        try:
            c, _ = ls.accept()
        except socket.timeout:
            continue
        c.settimeout(None)
        n += 1
        with open(path + ".tmp", "w") as f:
            f.write("%d\n" % n)
        os.rename(path + ".tmp", path)
        try:
            up = socket.create_connection(("127.0.0.1", target))
        except OSError:
            c.close()
            continue
        for a, b in ((c, up), (up, c)):
            threading.Thread(target=pipe, args=(a, b), daemon=True).start()


main()
