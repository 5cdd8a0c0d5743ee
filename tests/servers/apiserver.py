#!/usr/bin/env python3
"""apiserver: a real kube-apiserver (built by build-apiserver) with etcd on
loopback, for the suite that runs the kube end-to-end tests against it.

  apiserver.py BIN DIR [FLAG...]
                            start (FLAGs go to kube-apiserver too, e.g.
                            --http2-max-streams-per-connection=2); prints
                            the port on the first line
  apiserver.py --log DIR    the requests of non-system users so far, as
                            "METHOD PATH?QUERY" lines (kubeapi.py's log)

DIR gets: ca.crt (the CA of the server certificate and of client
certificates), me.crt/me.key (a client certificate for user "me" in
system:masters), tokens "abc" (user admin) and "sa-token" (user sa), both
in system:masters, and "ci-token" (user ci, in no group: it may do only what
a test's Role grants it); RBAC is on. Requests are read from the audit log, in the order they came.

A start that fails (a process exits, or it is not ready in 120 s) is
tried again on other ports, three times in all; why each failed is in
DIR/start.log.

What the controllers would do is not there: status is set by tests
through /status. One controller's work is done here, because the tests
delete namespaces: a namespace being deleted is finalized and deleted as
the namespace controller would do it (its content is not deleted). The
processes stop with the parent, on SIGTERM, or after 10 minutes.
"""
import http.client, json, os, random, shutil, signal, socket, ssl, subprocess, sys, threading, time

CTL_TOKEN = "ctl-token"   # user system:ctl: left out of --log


def free_ports(n):
    """n distinct free ports below the kernel's ephemeral range: a port
    there is never taken by an outgoing connection (of the API server to
    etcd, of kubectl, of the other test running) between being chosen
    here and being bound by etcd or the API server"""
    try:
        lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    except (OSError, ValueError, IndexError):
        lo = 32768
    held = []
    try:
        while len(held) < n:
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", random.randrange(10000, lo) if lo > 11000 else 0))
            except OSError:
                s.close()
                continue
            held.append(s)
        return [s.getsockname()[1] for s in held]
    finally:
        for s in held:
            s.close()


def sh(cmd, cwd):
    subprocess.run(cmd, cwd=cwd, shell=True, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def make_files(d):
    sh("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=test-ca "
       "-keyout ca.key -out ca.crt && "
       "openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout srv.key -out srv.csr && "
       "printf 'subjectAltName=IP:127.0.0.1\\n' > srv.ext && "
       "openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 "
       "-extfile srv.ext -out srv.crt && "
       "openssl req -newkey rsa:2048 -nodes -subj /O=system:masters/CN=me -keyout me.key -out me.csr && "
       "openssl x509 -req -in me.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -out me.crt && "
       "openssl genrsa -out sa.key 2048", d)
    with open(os.path.join(d, "tokens.csv"), "w") as f:
        f.write('abc,admin,1,"system:masters"\n'
                'sa-token,sa,2,"system:masters"\n'
                'ci-token,ci,4\n'
                '%s,system:ctl,3,"system:masters"\n' % CTL_TOKEN)
    with open(os.path.join(d, "audit.yaml"), "w") as f:
        f.write("apiVersion: audit.k8s.io/v1\nkind: Policy\n"
                "omitStages: [RequestReceived]\nrules:\n- level: Metadata\n")


class Api:
    def __init__(self, port):
        self.port = port
        self.ctx = ssl._create_unverified_context()

    def req(self, method, path, body=None):
        c = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=5)
        h = {"Authorization": "Bearer " + CTL_TOKEN, "Content-Type": "application/json"}
        c.request(method, path, body=json.dumps(body) if body is not None else None, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, data


def finalize_namespaces(api):
    """the namespace controller's last step, for namespaces being deleted"""
    while True:
        time.sleep(0.2)
        try:
            st, data = api.req("GET", "/api/v1/namespaces")
            if st != 200:
                continue
            for ns in json.loads(data).get("items", []):
                m = ns["metadata"]
                if not m.get("deletionTimestamp"):
                    continue
                ns.setdefault("spec", {})["finalizers"] = []
                api.req("PUT", "/api/v1/namespaces/%s/finalize" % m["name"], ns)
                api.req("DELETE", "/api/v1/namespaces/%s" % m["name"])
        except (OSError, ValueError, http.client.HTTPException):
            pass


VERBS = {"get": "GET", "list": "GET", "watch": "GET", "create": "POST", "update": "PUT",
         "patch": "PATCH", "delete": "DELETE", "deletecollection": "DELETE"}


def print_log(d):
    # the audit event of an answer is written after the answer: a marker
    # request (by system:ctl, left out) made now is waited for in the log,
    # so the events of every request answered before it are there too,
    # however loaded the machine
    marker = "/api/v1/namespaces/default/configmaps/addonmake-log-marker-%d" % random.randrange(10**9)
    try:
        with open(os.path.join(d, "port")) as f:
            Api(int(f.read())).req("GET", marker)
    except (OSError, ValueError, http.client.HTTPException):
        marker = None
    path = os.path.join(d, "audit.log")
    deadline = time.time() + 10
    while marker and time.time() < deadline:
        try:
            with open(path) as f:
                if marker in f.read():
                    break
        except OSError:
            pass
        time.sleep(0.05)
    time.sleep(0.05 if marker else 0.3)
    try:
        f = open(path)
    except OSError:
        return
    # in the order the requests came, as the stand-in logs them: an event
    # is written when its answer has gone, and on a busy machine a request
    # answered late (a PATCH whose watch event has already made a client
    # send its next request) would otherwise show after what it caused.
    # MicroTime has a fixed width: its text sorts as its time.
    events = []
    for line in f:
        try:
            e = json.loads(line)
        except ValueError:
            continue
        user = e.get("user", {}).get("username", "")
        if e.get("stage") != "ResponseComplete" or user.startswith("system:"):
            continue
        events.append((e.get("requestReceivedTimestamp", ""),
                       "%s %s" % (VERBS.get(e.get("verb"), e.get("verb", "?").upper()),
                                  e.get("requestURI", ""))))
    for _, line in sorted(events, key=lambda t: t[0]):
        print(line)


def log_tail(path, n=8):
    try:
        return "".join(open(path, errors="replace").readlines()[-n:]) or "(nothing)\n"
    except OSError:
        return "(no log)\n"


def start(binary, d, procs, attempt, parent, flags=()):
    """starts etcd and the API server on fresh ports and waits until they
    serve (up to 120 s): the Api, or None after writing why to start.log
    (a test that fails to start shows that file); None at once when the
    test that wanted it has gone"""
    null = subprocess.DEVNULL
    shutil.rmtree(os.path.join(d, "etcd"), ignore_errors=True)
    if os.path.exists(os.path.join(d, "audit.log")):
        os.remove(os.path.join(d, "audit.log"))
    ec, ep, port = free_ports(3)
    logs = [os.path.join(d, "etcd.log"), os.path.join(d, "apiserver.log")]
    procs.append(subprocess.Popen(
        ["etcd", "--data-dir", os.path.join(d, "etcd"),
         "--listen-client-urls", "http://127.0.0.1:%d" % ec,
         "--advertise-client-urls", "http://127.0.0.1:%d" % ec,
         "--listen-peer-urls", "http://127.0.0.1:%d" % ep,
         "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % ep,
         "--initial-cluster", "default=http://127.0.0.1:%d" % ep],
        stdout=null, stderr=open(logs[0], "w")))
    procs.append(subprocess.Popen(
        [binary, "--etcd-servers", "http://127.0.0.1:%d" % ec,
         "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
         "--secure-port", str(port), "--insecure-port", "0",
         "--tls-cert-file", "srv.crt", "--tls-private-key-file", "srv.key",
         "--client-ca-file", "ca.crt", "--token-auth-file", "tokens.csv",
         "--authorization-mode", "RBAC",
         "--service-account-issuer", "https://kubernetes.default.svc",
         "--service-account-key-file", "sa.key", "--service-account-signing-key-file", "sa.key",
         "--service-cluster-ip-range", "10.0.0.0/24",
         "--audit-policy-file", "audit.yaml", "--audit-log-path", "audit.log"] + list(flags),
        cwd=d, stdout=null, stderr=open(logs[1], "w")))
    api = Api(port)
    deadline = time.time() + 120
    while True:
        if os.getppid() != parent:
            return None
        gone = [i for i, p in enumerate(procs) if p.poll() is not None]
        if gone or time.time() > deadline:
            with open(os.path.join(d, "start.log"), "a") as f:
                f.write("attempt %d (ports etcd %d/%d, api %d): " % (attempt, ec, ep, port))
                if not gone:
                    f.write("not ready after 120 s\n")
                for i in gone:
                    f.write("%s exited with %s; %s ends:\n%s" % (
                        ("etcd", "kube-apiserver")[i], procs[i].returncode,
                        os.path.basename(logs[i]), log_tail(logs[i])))
            return None
        try:
            # ready, and its bootstrap controller has made `default` (it
            # runs after /readyz says ok; a test that finds `default`
            # missing creates it, which no cluster in use would do)
            st, data = api.req("GET", "/readyz")
            if st == 200 and api.req("GET", "/api/v1/namespaces/default")[0] == 200:
                return api
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.1)


def end_procs(procs):
    """ends the processes (SIGTERM, then SIGKILL after 5 s) and forgets them"""
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    del procs[:]


def main():
    if sys.argv[1] == "--log":
        print_log(sys.argv[2])
        return
    binary, d = sys.argv[1], sys.argv[2]
    os.makedirs(d, exist_ok=True)
    try:
        make_files(d)
    except subprocess.CalledProcessError as e:
        with open(os.path.join(d, "start.log"), "a") as f:
            f.write("making the certificates failed: %s\n" % e)
        print(0, flush=True)
        return
    parent = os.getppid()
    procs = []

    def stop(*_):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        end_procs(procs)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    api = None
    for attempt in range(1, 4):
        api = start(binary, d, procs, attempt, parent, sys.argv[3:])
        if api or os.getppid() != parent:
            break
        end_procs(procs)
    if api:
        with open(os.path.join(d, "port"), "w") as f:
            f.write(str(api.port))
    try:
        print(api.port if api else 0, flush=True)
    except OSError:   # the test has gone
        api = None
    if not api:
        stop()
    threading.Thread(target=finalize_namespaces, args=(api,), daemon=True).start()
    end = time.time() + 600
    while os.getppid() == parent and time.time() < end and all(p.poll() is None for p in procs):
        time.sleep(0.2)
    stop()


main()
