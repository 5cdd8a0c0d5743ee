#!/usr/bin/env python3
"""kubeapi: a stand-in for kube-apiserver on loopback, for addonmake's tests.

  kubeapi.py [--tls CERT KEY [--http1]] [--client-ca CA] [--token T]...
             [--manual-crds] [--available-after MS]

Speaks what ../shared/notes/kubeapi.md section 7 lists, as the real server
does: /version, aggregated discovery (apidiscovery.k8s.io/v2, when Accept
asks for it) and legacy discovery (/api, /apis, /api/v1, /apis/G/V, custom
resources appearing once their CRD is Established), OpenAPI v3 stubs,
server-side apply (PATCH application/apply-patch+yaml with a JSON body:
201 on create, 200 on update, fieldManager required, per-field owners and
409 conflicts unless force=true, dryRun=All), create (POST to a collection:
409 AlreadyExists) and update (PUT: 404 when missing, 409 Conflict when
metadata.resourceVersion is not the stored one), strategic merge and merge
patches (as kubectl edit and kubectl patch send them), PUTs and patches
recorded as the real server records an update (the updater's manager —
fieldManager, else the user agent up to its first / — takes the fields it
changed, one managedFields entry per manager, operation and subresource),
the scale subresource of Deployments, StatefulSets and ReplicaSets (kubectl
scale), containers' resource quantities kept as the real server keeps them
(a number refused, "0.5" written back as "500m"), merge patches of /status
(a custom resource whose CRD version declares no status subresource has
no /status: its status is content, written through the object by an apply,
a patch or a PUT and owned by who wrote it),
GET and LIST (labelSelector k=v, k!=v, k, !k; fieldSelector
metadata.name=), watches of a collection (watch=1 from resourceVersion, or
ADDED for what exists first; the same selectors; timeoutSeconds; events as
JSON lines of a chunked answer), DELETE with propagationPolicy (body or query; a deleted
namespace takes its objects along), Status error bodies. With --tls it
speaks HTTPS; --token accepts those bearer tokens, --client-ca client
certificates signed by that CA; without either nothing is checked. Over
TLS it speaks HTTP/2 to a client that asks for it (ALPN), as a real server
does (tests/servers/h2serve.py, with Debian's python3-h2; without it, or
with --http1, HTTP/1.1 only). CRDs
are Established at once unless --manual-crds (then a test sets their
status). With --available-after MS a Deployment is Available MS after its
generation is first read (a controller's rollout, for benchmarks). One
process serves a fleet: a request under /clusters/NAME/ (a kubeconfig's
server: http://127.0.0.1:PORT/clusters/NAME) is for cluster NAME, with
objects of its own (its control requests too); the log keeps the prefix.
Prints its port on the first line of stdout.

Test control (never authenticated; loopback only):
  GET /__ctl/fault?path=P&mode=M&n=N[&ms=D]  the next N requests whose path
      starts with P: M is 503 (with Retry-After: 0), 401 (as for a token
      that has expired), 403 (as RBAC refuses a user without the verb), drop (the connection closes without an answer),
      delay (answer after D ms), huge (a 200 answer of 65 MiB; with chunked,
      sent without a Content-Length) or nodryrun (only requests with
      dryRun=All count: 400, as the API server answers when an admission
      webhook with side effects would be called in a dry run), endwatch
      (a watch is answered and ended at once, with no event, as a server
      ends a watch when it restarts)
  GET /__ctl/log            every request so far: "METHOD PATH?QUERY" lines
                            (with times=1, each after the seconds since the
                            epoch it came at and a space)
  GET /__ctl/linger?ms=D    deleted objects stay D ms with deletionTimestamp
  GET /__ctl/discovery-lag?ms=D  a CRD's kind is served (in discovery and
                            at its paths) only D ms after it is first seen
                            Established, as the real server's discovery
                            controller lags behind the condition
  GET /__ctl/dump           every stored object, one JSON line each, sorted
  GET /__ctl/conns          how many connections were accepted so far (this
                            request's own included)
  GET /__ctl/h2             how many logged requests came over HTTP/2, or
                            "unavailable" (no h2 package: HTTP/1.1 only)
It stops with its parent, on SIGTERM, or after 10 minutes.
"""
import base64
import datetime, http.client, http.server, json, os, random, socket, ssl, sys, threading, time
import urllib.parse, uuid
import h2serve

A = sys.argv
TOKENS = [A[i + 1] for i, x in enumerate(A) if x == "--token"]
CLIENT_CA = A[A.index("--client-ca") + 1] if "--client-ca" in A else None
MANUAL_CRDS = "--manual-crds" in A
# --available-after MS: a Deployment's status says Available MS after its
# generation is first read, as if a controller had rolled it out
AVAILABLE_AFTER = int(A[A.index("--available-after") + 1]) if "--available-after" in A else None
lock = threading.RLock()
changed = threading.Condition(lock)  # notified on every write (watches wait on it)
faults, log, log_times, linger, conns, discovery_lag = [], [], [], [0], [0], [0]
h2_requests = [0]   # how many of the logged requests came over HTTP/2
rv = [1000]
# a CRD's uid -> when its kind is served (/__ctl/discovery-lag)
served_at = {}
# counts every write of a CRD (resources() is made again after one)
crd_writes = [0]

# group/version -> [(resource, kind, namespaced, shortnames)]
BUILTIN = {
    "v1": [("namespaces", "Namespace", False, ["ns"]), ("configmaps", "ConfigMap", True, ["cm"]),
           ("secrets", "Secret", True, []), ("serviceaccounts", "ServiceAccount", True, ["sa"]),
           ("services", "Service", True, ["svc"]), ("pods", "Pod", True, ["po"]),
           ("persistentvolumeclaims", "PersistentVolumeClaim", True, ["pvc"]),
           ("persistentvolumes", "PersistentVolume", False, ["pv"]),
           ("limitranges", "LimitRange", True, []), ("resourcequotas", "ResourceQuota", True, [])],
    "apps/v1": [("deployments", "Deployment", True, ["deploy"]),
                ("statefulsets", "StatefulSet", True, ["sts"]),
                ("daemonsets", "DaemonSet", True, ["ds"]),
                ("replicasets", "ReplicaSet", True, ["rs"])],
    "batch/v1": [("jobs", "Job", True, []), ("cronjobs", "CronJob", True, ["cj"])],
    "policy/v1": [("poddisruptionbudgets", "PodDisruptionBudget", True, ["pdb"])],
    "rbac.authorization.k8s.io/v1": [("roles", "Role", True, []), ("rolebindings", "RoleBinding", True, []),
                                     ("clusterroles", "ClusterRole", False, []),
                                     ("clusterrolebindings", "ClusterRoleBinding", False, [])],
    "apiextensions.k8s.io/v1": [("customresourcedefinitions", "CustomResourceDefinition", False, ["crd"])],
    "networking.k8s.io/v1": [("ingresses", "Ingress", True, ["ing"]),
                             ("networkpolicies", "NetworkPolicy", True, ["netpol"])],
    "storage.k8s.io/v1": [("storageclasses", "StorageClass", False, ["sc"])],
    "admissionregistration.k8s.io/v1": [
        ("validatingwebhookconfigurations", "ValidatingWebhookConfiguration", False, []),
        ("mutatingwebhookconfigurations", "MutatingWebhookConfiguration", False, [])],
    "scheduling.k8s.io/v1": [("priorityclasses", "PriorityClass", False, ["pc"])],
    "coordination.k8s.io/v1": [("leases", "Lease", True, [])],
}
# what the real server updates only with metadata.resourceVersion given (its
# strategy's AllowUnconditionalUpdate is false)
NO_UNCONDITIONAL_UPDATE = {"leases"}
# what has a scale subresource
SCALABLE = {"deployments", "statefulsets", "replicasets"}
# (group, resource, namespace, name) -> {"obj": live object, "mgr": {manager: applied config}}:
# the objects of the cluster this request is for (select)
store = {}
# a cluster's store by the prefix of its server URL, /clusters/NAME ("": none)
STORES = {"": store}


def select(name):
    """the objects of cluster name from now on (lock held): one process
    serves a fleet, each cluster at http://127.0.0.1:PORT/clusters/NAME"""
    global store
    if name not in STORES:
        STORES[name] = {}
        store = STORES[name]
        system_namespaces()
    store = STORES[name]


def ripen(e):
    """with --available-after, a Deployment whose generation has been read
    for that long is Available"""
    o = e["obj"]
    if AVAILABLE_AFTER is None or o.get("kind") != "Deployment":
        return
    gen = o["metadata"].get("generation", 1)
    if e.get("seen_gen") != gen:
        e["seen_gen"], e["seen_at"] = gen, time.time()
    st = o.get("status") or {}
    if st.get("observedGeneration") != gen and time.time() - e["seen_at"] >= AVAILABLE_AFTER / 1000.0:
        n = (o.get("spec") or {}).get("replicas", 1)
        bump(o)
        o["status"] = {"observedGeneration": gen, "replicas": n, "updatedReplicas": n,
                       "readyReplicas": n, "availableReplicas": n, "conditions": [
                           {"type": "Available", "status": "True"},
                           {"type": "Progressing", "status": "True",
                            "reason": "NewReplicaSetAvailable"}]}


def now():
    t = int(time.time())
    if now_cache[0] != t:
        now_cache[:] = [t, datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%SZ")]
    return now_cache[1]


now_cache = [None, None]
date_cache = [None, None]


def jcopy(v):
    """a copy of JSON-shaped data (dicts, lists, scalars): what deepcopy
    makes of it, without deepcopy's memo and dispatch (it was a sixth of
    the server's time per request)"""
    if isinstance(v, dict):
        return {k: jcopy(x) for k, x in v.items()}
    if isinstance(v, list):
        return [jcopy(x) for x in v]
    return v


def new_uid():
    """a random (version 4) UUID; uuid4() reads os.urandom each time, which
    took a twelfth of the server's time per request"""
    return str(uuid.UUID(int=random.getrandbits(128), version=4))


def gv_split(gv):
    return ("", gv) if "/" not in gv else tuple(gv.split("/", 1))


def resources():
    """the discovery table: group/version -> resource entries, with the
    custom resources of Established CRDs; made again only when a CRD was
    written since (it scanned the whole store on each request)"""
    key = (id(store), crd_writes[0])
    if resources_cache[0] == key:
        return resources_cache[1]
    t, lagging = discovery_table()
    resources_cache[:] = [None if lagging else key, t]
    return t


# what resources() made last, and for which store and CRD writes
resources_cache = [None, None]


def discovery_table():
    """resources()'s table, and whether a CRD's kind is held back by
    /__ctl/discovery-lag (the table must then be made again)"""
    lagging = False
    t = {k: list(v) for k, v in BUILTIN.items()}
    for (g, r, ns, n), e in store.items():
        if r != "customresourcedefinitions" or "deletionTimestamp" in e["obj"]["metadata"]:
            continue
        o = e["obj"]
        conds = o.get("status", {}).get("conditions", [])
        if not any(c.get("type") == "Established" and c.get("status") == "True" for c in conds):
            continue
        uid = o["metadata"].get("uid")
        if time.monotonic() < served_at.setdefault(uid, time.monotonic() + discovery_lag[0] / 1000.0):
            lagging = True
            continue
        sp = o.get("spec", {})
        names = sp.get("names", {})
        for v in sp.get("versions", []):
            if v.get("served", True):
                t.setdefault("%s/%s" % (sp.get("group"), v["name"]), []).append(
                    (names.get("plural"), names.get("kind"), sp.get("scope") == "Namespaced",
                     names.get("shortNames", [])))
    return t, lagging


def status_sub(gv, res):
    """whether res serves /status: every built-in kind here, a custom
    resource only when its CRD's version declares the subresource; without
    it status is content like any other, written through the object"""
    g, v = gv_split(gv)
    crd = store.get(("apiextensions.k8s.io", "customresourcedefinitions", None, "%s.%s" % (res, g)))
    if crd is None:
        return True
    for ver in crd["obj"].get("spec", {}).get("versions", []):
        if ver.get("name") == v:
            return "status" in (ver.get("subresources") or {})
    return True


def find_resource(gv, res):
    for e in resources().get(gv, []):
        if e[0] == res:
            return e
    return None


def status(code, reason, message, details=None):
    s = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
         "message": message, "reason": reason, "code": code}
    if details is not None:
        s["details"] = details
    return code, s


def not_found(g, res, name):
    """the real server's 404 for an object of resource res in group g"""
    gr = res if not g else "%s.%s" % (res, g)
    return status(404, "NotFound", '%s "%s" not found' % (gr, name),
                  {"name": name, "group": g, "kind": res})


def leaves(o, p=()):
    """the field paths of an applied config: maps are walked, anything else
    (lists included) is one field, as with atomic lists"""
    if isinstance(o, dict) and o:
        for k, v in o.items():
            yield from leaves(v, p + (k,))
    else:
        yield p


def get_path(o, p):
    for k in p:
        if not isinstance(o, dict) or k not in o:
            return None
        o = o[k]
    return o


def del_path(o, p):
    for k in p[:-1]:
        o = o.get(k) if isinstance(o, dict) else None
        if o is None:
            return
    if isinstance(o, dict):
        o.pop(p[-1], None)


def merge(a, b):
    for k, v in b.items():
        if isinstance(v, dict) and isinstance(a.get(k), dict):
            merge(a[k], v)
        else:
            a[k] = jcopy(v)


def merge_patch(a, b):
    for k, v in b.items():
        if v is None:
            a.pop(k, None)
        elif isinstance(v, dict) and isinstance(a.get(k), dict):
            merge_patch(a[k], v)
        else:
            a[k] = jcopy(v)


def fields_v1(cfg):
    out = {}
    for p in leaves(cfg):
        d = out
        for k in p:
            d = d.setdefault("f:" + k, {})
    return out


def rebuild(e, old, own_status=True):
    """the live object from every manager's applied config, keeping what
    the server owns (identity, and status where it has a subresource for
    it: own_status)"""
    o = {}
    for cfg in e["mgr"].values():
        merge(o, cfg)
    md = o.setdefault("metadata", {})
    for k in ("uid", "creationTimestamp", "generation", "resourceVersion", "deletionTimestamp",
              "finalizers"):
        if k in old.get("metadata", {}):
            md[k] = old["metadata"][k]
    if own_status and "status" in old:
        o["status"] = old["status"]
    secret_data(o)
    if o.get("kind") in ("Secret", "ConfigMap") and o.get("apiVersion") == "v1":
        # Go encodes a map's keys sorted
        for f in ("data", "binaryData"):
            if isinstance(o.get(f), dict):
                o[f] = dict(sorted(o[f].items()))
    ops = e.get("ops", {})
    md["managedFields"] = []
    for m, c in e["mgr"].items():
        op, sub = ops.get(m, ("Apply", None))
        f = {"manager": m.split("\0")[0], "operation": op, "apiVersion": o.get("apiVersion"), "time": now(),
             "fieldsType": "FieldsV1", "fieldsV1": fields_v1(c)}
        if sub:
            f["subresource"] = sub
        md["managedFields"].append(f)
    return o


def set_path(o, p, v):
    for k in p[:-1]:
        if not isinstance(o.get(k), dict):
            o[k] = {}
        o = o[k]
    o[p[-1]] = jcopy(v)


def strategic_patch(a, b):
    """a strategic merge patch as kubectl edit and kubectl patch send it, for
    what they send: maps merge, null deletes, lists of maps with a name
    merge by name in the order $setElementOrder gives (other lists are
    replaced)"""
    for k, v in b.items():
        if k.startswith("$setElementOrder/") or k == "$retainKeys":
            continue
        order = b.get("$setElementOrder/" + k)
        if v is None:
            a.pop(k, None)
        elif isinstance(v, dict) and isinstance(a.get(k), dict):
            strategic_patch(a[k], v)
        elif isinstance(v, list) and isinstance(a.get(k), list) and \
                all(isinstance(x, dict) and "name" in x for x in v + a[k]):
            have = {x["name"]: x for x in a[k]}
            for x in v:
                if x.get("$patch") == "delete":
                    have.pop(x["name"], None)
                elif x["name"] in have:
                    strategic_patch(have[x["name"]], x)
                else:
                    have[x["name"]] = jcopy(x)
            names = [x["name"] for x in order] if order else [x["name"] for x in a[k]] + \
                [x["name"] for x in v if x["name"] not in [y["name"] for y in a[k]]]
            a[k] = [have[n] for n in names if n in have] + \
                [x for n, x in have.items() if n not in names]
        else:
            a[k] = jcopy(v)


def user_fields(o, own_status=True):
    """what a manager can own of an object: all but the server's (status
    too, where the server has a subresource for it: own_status)"""
    u = jcopy(o)
    if own_status:
        u.pop("status", None)
    md = u.get("metadata", {})
    for k in ("uid", "creationTimestamp", "generation", "resourceVersion", "deletionTimestamp",
              "managedFields", "selfLink"):
        md.pop(k, None)
    return u


def update(key, new, mgr, sub, dry):
    """an update (PUT, or a patch that is not an apply) by mgr, as the real
    server records it: mgr takes the fields whose values it changed or
    added, from whoever owned them, the fields it removed go from every
    manager, and the rest keep their owners"""
    e = store[key]
    old = e["obj"]
    sub_status = status_sub(new.get("apiVersion", ""), key[1])
    before = user_fields(old, sub_status)
    after = user_fields(new, sub_status)
    # the updater owns the data its stringData became
    secret_data(after)
    was = {p: get_path(before, p) for p in leaves(before)}
    now_ = {p: get_path(after, p) for p in leaves(after)}
    mgrs = jcopy(e["mgr"])
    # the real server keeps one entry per manager, operation and subresource
    mgr = "%s\0Update\0%s" % (mgr, sub or "")
    for p, v in now_.items():
        if p in was and was[p] == v:
            continue
        for m in mgrs:
            if m != mgr:
                del_path(mgrs[m], p)
        set_path(mgrs.setdefault(mgr, {}), p, v)
    for p in was:
        if p not in now_:
            for m in mgrs:
                del_path(mgrs[m], p)
    ops = dict(e.get("ops", {}))
    ops[mgr] = ("Update", sub)
    e2 = {"mgr": mgrs, "ops": ops}
    o = rebuild(e2, old, sub_status)
    if spec_of(o) != spec_of(old):
        o["metadata"]["generation"] = old["metadata"].get("generation", 1) + 1
    bump(o)
    e2["obj"] = o
    if not dry:
        store[key] = e2
    return o


def manager_of(q, agent):
    """the field manager named, else what the real server takes: the user
    agent up to its first /"""
    return q.get("fieldManager", [""])[0] or (agent or "unknown").split("/")[0]


def quantities(o):
    """the containers' resource quantities as the real server keeps them: a
    number is refused (apply: 500, as from its typed patch), a decimal
    fraction is written in milli-units ("0.5" -> "500m"); None, or the
    error"""
    spec = o.get("spec") or {}
    pod = ((spec.get("template") or {}).get("spec") or {}) if o.get("kind") != "Pod" else spec
    for i, c in enumerate(pod.get("containers") or []):
        for k in ("requests", "limits"):
            q = (c.get("resources") or {}).get(k) or {}
            for r, v in list(q.items()):
                if not isinstance(v, str):
                    return status(500, "InternalError", 'failed to create typed patch object: '
                                  '.spec.template.spec.containers[name="%s"].resources.%s.%s: '
                                  'expected string, got &value.valueUnstructured{Value:%s}'
                                  % (c.get("name"), k, r, v))
                try:
                    f = float(v)
                except ValueError:
                    continue
                if f != int(f):
                    q[r] = "%dm" % round(f * 1000)
    return None


def secret_data(o):
    """a Secret as the real server stores it: stringData is write-only,
    merged into data (base64); the type defaults to Opaque"""
    if o.get("kind") == "Secret" and o.get("apiVersion") == "v1":
        if "stringData" in o:
            data = o.setdefault("data", {})
            for k, v in o.pop("stringData").items():
                data[k] = base64.b64encode(str(v).encode()).decode()
        o.setdefault("type", "Opaque")


def spec_of(o):
    return {k: v for k, v in o.items() if k not in ("metadata", "status")}


def bump(o):
    rv[0] += 1
    if o.get("kind") == "CustomResourceDefinition":
        crd_writes[0] += 1
    o["metadata"]["resourceVersion"] = str(rv[0])
    changed.notify_all()


def default_status(kind, o):
    if kind == "Namespace":
        o["status"] = {"phase": "Active"}
    if kind == "CustomResourceDefinition" and not MANUAL_CRDS:
        o["status"] = {"conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts"},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted"}],
            "acceptedNames": o.get("spec", {}).get("names", {})}


def ensure_ns(ns):
    if ns is None:
        return None
    e = store.get(("", "namespaces", None, ns))
    if not e:
        return status(404, "NotFound", 'namespaces "%s" not found' % ns,
                      {"name": ns, "kind": "namespaces"})
    if "deletionTimestamp" in e["obj"]["metadata"]:
        return status(403, "Forbidden", 'unable to create new content in namespace %s because '
                      'it is being terminated' % ns,
                      {"name": ns, "kind": "namespaces", "causes": [
                          {"reason": "NamespaceTerminating", "field": "metadata.namespace",
                           "message": "namespace %s is being terminated" % ns}]})
    return None


def apply(g, res, ns, name, body, q):
    mgr = q.get("fieldManager", [""])[0]
    if not mgr:
        return status(422, "Invalid", 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: '
                      'Required value: is required for apply patch',
                      {"group": "meta.k8s.io", "kind": "PatchOptions", "causes": [
                          {"reason": "FieldValueRequired", "message": "Required value: is required for apply patch",
                           "field": "fieldManager"}]})
    force = q.get("force", ["false"])[0] == "true"
    dry = q.get("dryRun", [""])[0] == "All"
    md = body.get("metadata") or {}
    kind = body.get("kind", "")
    if not body.get("apiVersion") or not kind:
        return status(400, "BadRequest", "Object 'Kind' is missing in '%s'" % json.dumps(body))
    if md.get("name") != name:
        return status(400, "BadRequest", "the name of the object (%s) does not match the name on "
                      "the URL (%s)" % (md.get("name"), name))
    if ns is not None and md.get("namespace", ns) != ns:
        return status(400, "BadRequest", "the namespace of the object (%s) does not match the "
                      "namespace on the URL (%s)" % (md.get("namespace"), ns))
    if "managedFields" in md:
        return status(400, "BadRequest", "metadata.managedFields must be nil")
    if name == "" or any(c not in "abcdefghijklmnopqrstuvwxyz0123456789-." for c in name):
        gk = kind if not g else "%s.%s" % (kind, g)
        return status(422, "Invalid", '%s "%s" is invalid: metadata.name: Invalid value: "%s": a '
                      "lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                      "characters, '-' or '.'" % (gk, name, name),
                      {"name": name, "group": g, "kind": kind, "causes": [
                          {"reason": "FieldValueInvalid", "field": "metadata.name",
                           "message": 'Invalid value: "%s": a lowercase RFC 1123 subdomain' % name}]})
    bad = ensure_ns(ns)
    if bad:
        return bad
    cfg = jcopy(body)
    # status is the server's only where it has a subresource for it; else
    # the applier's, like any other field
    sub_status = status_sub(body.get("apiVersion", ""), res)
    if sub_status:
        cfg.pop("status", None)
    if ns is not None:
        cfg["metadata"]["namespace"] = ns
    bad = quantities(cfg)
    if bad:
        return bad
    # the applier owns the data its stringData becomes
    secret_data(cfg)
    if "type" not in body:
        cfg.pop("type", None)  # defaulted by the server, not applied
    key = (g, res, ns, name)
    e = store.get(key)
    if e is None:
        e = {"mgr": {mgr: cfg}}
        o = rebuild(e, {})
        o["metadata"].update(uid=new_uid(), creationTimestamp=now(), generation=1)
        default_status(kind, o)
        bump(o)
        e["obj"] = o
        if not dry:
            store[key] = e
        return 201, o
    old = e["obj"]
    conflicts = []
    for p in leaves(cfg):
        if p in (("apiVersion",), ("kind",), ("metadata", "name"), ("metadata", "namespace")):
            continue
        for m, other in e["mgr"].items():
            if m == mgr or get_path(other, p) is None:
                continue
            if get_path(other, p) != get_path(cfg, p):
                conflicts.append((m, p))
    e2 = {"mgr": jcopy(e["mgr"]), "ops": dict(e.get("ops", {}))}
    e2["ops"].pop(mgr, None)
    if conflicts and not force:
        conflicts = [(m.split("\0")[0], p) for m, p in conflicts]
        causes = [{"reason": "FieldManagerConflict", "message": 'conflict with "%s"' % m,
                   "field": "." + ".".join(p)} for m, p in conflicts]
        if len(conflicts) == 1:
            msg = 'Apply failed with 1 conflict: conflict with "%s": .%s' % (
                conflicts[0][0], ".".join(conflicts[0][1]))
        else:
            msg = "Apply failed with %d conflicts: " % len(conflicts) + "\n".join(
                'conflict with "%s": .%s' % (m, ".".join(p)) for m, p in conflicts)
        return status(409, "Conflict", msg, {"causes": causes})
    for m, p in conflicts:
        del_path(e2["mgr"][m], p)
    e2["mgr"][mgr] = cfg
    o = rebuild(e2, old, sub_status)
    if spec_of(o) != spec_of(old):
        o["metadata"]["generation"] = old["metadata"].get("generation", 1) + 1
    o2 = jcopy(o)
    o2["metadata"].pop("managedFields", None)
    old2 = jcopy(old)
    old2["metadata"].pop("managedFields", None)
    old2["metadata"].pop("resourceVersion", None)
    o2["metadata"].pop("resourceVersion", None)
    if o2 != old2 or e2["mgr"].keys() != e["mgr"].keys():
        bump(o)
    else:
        o["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
    e2["obj"] = o
    if not dry:
        store[key] = e2
    return 200, o


def selector_match(labels, sel):
    for term in filter(None, (t.strip() for t in sel.split(","))):
        if "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k) == v:
                return False
        elif "==" in term or "=" in term:
            k, v = term.replace("==", "=").split("=", 1)
            if labels.get(k) != v:
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def gone(key, st=None):
    """removes an object (of the store st, else this request's); a
    namespace takes its objects along"""
    st = store if st is None else st
    e = st.pop(key, None)
    if key[1] == "customresourcedefinitions":
        crd_writes[0] += 1
    changed.notify_all()
    if e and key[1] == "namespaces":
        for k in [k for k in st if k[2] == key[3]]:
            st.pop(k, None)


def delete(key, kind, g, q, body):
    e = store.get(key)
    res, name = key[1], key[3]
    if not e:
        return not_found(g, res, name)
    if res == "namespaces" and name in ("default", "kube-system", "kube-public"):
        # the NamespaceLifecycle admission plugin's immortal namespaces
        return status(403, "Forbidden", 'namespaces "%s" is forbidden: this namespace may not '
                      'be deleted' % name, {"name": name, "kind": "namespaces"})
    pre = ((body or {}).get("preconditions") or {}).get("uid")
    if pre and pre != e["obj"]["metadata"]["uid"]:
        return status(409, "Conflict", "Precondition failed: UID in precondition: %s, UID in object "
                      "meta: %s" % (pre, e["obj"]["metadata"]["uid"]), {"name": name, "group": g, "kind": res})
    pol = (body or {}).get("propagationPolicy") or q.get("propagationPolicy", [""])[0] or "Background"
    if q.get("dryRun", [""])[0] == "All":
        return 200, e["obj"]
    o = e["obj"]
    if linger[0] or pol == "Foreground" or res == "namespaces":
        if "deletionTimestamp" not in o["metadata"]:
            o["metadata"]["deletionTimestamp"] = now()
            if pol == "Foreground":
                o["metadata"]["finalizers"] = ["foregroundDeletion"]
            bump(o)
            if res == "namespaces":
                o["status"] = {"phase": "Terminating"}
            cur = store
            threading.Timer(max(linger[0], 50) / 1000.0, lambda: locked(gone, key, cur)).start()
        return 200, o
    gone(key)
    return 200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                 "details": {"name": name, "group": g, "kind": res, "uid": o["metadata"]["uid"]}}


def locked(f, *a):
    with lock:
        return f(*a)


def openapi(path, q):
    t = resources()
    if path == "/openapi/v3":
        paths = {}
        for gv in t:
            rel = "api/v1" if gv == "v1" else "apis/" + gv
            paths[rel] = {"serverRelativeURL": "/openapi/v3/%s?hash=%d" % (rel, len(t[gv]))}
        return 200, {"paths": paths}
    rel = path[len("/openapi/v3/"):]
    gv = "v1" if rel == "api/v1" else rel[len("apis/"):]
    if gv not in t:
        return status(404, "NotFound", "the server could not find the requested resource")
    g, v = gv_split(gv)
    paths = {}
    for res, kind, nsd, _ in t[gv]:
        p = "/%s/%s%s/{name}" % ("api" if not g else "apis", gv, "/namespaces/{namespace}/" + res if nsd else "/" + res)
        paths[p] = {"patch": {"x-kubernetes-group-version-kind": {"group": g, "version": v, "kind": kind},
                              "parameters": [{"name": n, "in": "query"} for n in
                                             ("dryRun", "fieldManager", "fieldValidation", "force")]}}
    return 200, {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.0"},
                 "paths": paths, "components": {"schemas": {}}}


def discovery(path):
    t = resources()
    if path == "/api":
        return 200, {"kind": "APIVersions", "versions": ["v1"],
                     "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}
    if path == "/apis":
        groups = {}
        for gv in t:
            if gv == "v1":
                continue
            g, v = gv_split(gv)
            groups.setdefault(g, []).append({"groupVersion": gv, "version": v})
        return 200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
            {"name": g, "versions": vs, "preferredVersion": vs[0]} for g, vs in sorted(groups.items())]}
    gv = "v1" if path == "/api/v1" else path[len("/apis/"):]
    if gv not in t:
        if path.startswith("/apis/") and "/" not in gv:
            g = gv
            vs = [{"groupVersion": x, "version": gv_split(x)[1]} for x in t if gv_split(x)[0] == g]
            if vs:
                return 200, {"kind": "APIGroup", "apiVersion": "v1", "name": g, "versions": vs,
                             "preferredVersion": vs[0]}
        return 404, None
    rs = []
    for res, kind, nsd, short in t[gv]:
        verbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
        rs.append({"name": res, "singularName": kind.lower(), "namespaced": nsd, "kind": kind,
                   "verbs": verbs, "shortNames": short} if short else
                  {"name": res, "singularName": kind.lower(), "namespaced": nsd, "kind": kind, "verbs": verbs})
        if status_sub(gv, res):
            rs.append({"name": res + "/status", "singularName": "", "namespaced": nsd, "kind": kind,
                       "verbs": ["get", "patch", "update"]})
    return 200, {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": rs}


AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def aggregated(path):
    """aggregated discovery (apidiscovery.k8s.io/v2, served since 1.30 to a
    client whose Accept asks for it): every group of /api or /apis with
    each version's resources in one document"""
    groups = {}
    for gv, rs in resources().items():
        g, v = gv_split(gv)
        if (path == "/api") != (g == ""):
            continue
        res = []
        for name, kind, nsd, short in rs:
            e = {"resource": name, "responseKind": {"group": g, "version": v, "kind": kind},
                 "scope": "Namespaced" if nsd else "Cluster", "singularResource": kind.lower(),
                 "verbs": ["create", "delete", "deletecollection", "get", "list", "patch",
                           "update", "watch"]}
            if status_sub(gv, name):
                e["subresources"] = [{"subresource": "status",
                                      "responseKind": {"group": g, "version": v, "kind": kind},
                                      "verbs": ["get", "patch", "update"]}]
            if short:
                e["shortNames"] = short
            res.append(e)
        groups.setdefault(g, []).append({"version": v, "resources": res, "freshness": "Current"})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2",
            "metadata": {}, "items": [{"metadata": {"name": g}, "versions": vs}
                                      for g, vs in sorted(groups.items())]}


def parse_res_path(path):
    """(group, gv, resource entry, namespace, name, subresource) or None"""
    parts = path.strip("/").split("/")
    if parts[0] == "api" and len(parts) >= 2:
        gv, rest = parts[1], parts[2:]
    elif parts[0] == "apis" and len(parts) >= 3:
        gv, rest = parts[1] + "/" + parts[2], parts[3:]
    else:
        return None
    if not rest:
        return None
    ns = None
    if rest[0] == "namespaces" and len(rest) >= 3 and not (len(rest) == 3 and rest[2] in ("status", "finalize")):
        ns, rest = rest[1], rest[2:]
    ent = find_resource(gv, rest[0])
    if ent is None:
        return gv, None, None, None, None
    if ns is not None and not ent[2]:
        return gv, None, None, None, None
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    return gv, ent, ns, name, sub


Headers = h2serve.Headers


def may_block(method, path):
    """whether a request may take long, and is answered on a thread of its
    own over HTTP/2: a watch, and any request while a fault is set (a
    delay, an answer of 65 MiB)"""
    q = path.partition("?")[2]
    if method == "GET" and ("watch=1" in q or "watch=true" in q):
        return True
    with lock:
        return any(f[2] > 0 for f in faults)


def parse_headers(fp, _class=None):
    """http.server's header parsing without the email package's parser,
    which took a fifth of the server's time per request"""
    h = Headers()
    for line in http.client._read_headers(fp):
        name, sep, value = line.decode("iso-8859-1").partition(":")
        if sep:
            h.setdefault(name.strip().lower(), value.strip())
    return h


http.client.parse_headers = parse_headers


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    http2 = False   # set on the handler of a request that came over HTTP/2
    # an answer leaves in one piece, as from Go's net/http: written unbuffered,
    # headers and body were two segments, and Nagle's algorithm with the
    # client's delayed ACK held every body back 40 ms (handle_one_request
    # flushes after each answer)
    wbufsize = 1 << 16

    def log_message(self, *a):
        pass

    def date_time_string(self, timestamp=None):
        """the Date header, made once a second"""
        t = int(time.time() if timestamp is None else timestamp)
        if date_cache[0] != t:
            date_cache[:] = [t, http.server.BaseHTTPRequestHandler.date_time_string(self, t)]
        return date_cache[1]

    def setup(self):
        super().setup()
        with lock:
            conns[0] += 1

    def handle(self):
        """HTTP/2 when the client chose it, else HTTP/1.1"""
        if h2serve.negotiated(self.connection):
            return h2serve.Connection(self.connection, type(self), self.server,
                                      self.client_address, may_block).run()
        super().handle()

    def send(self, code, obj, ctype="application/json", extra=()):
        b = (json.dumps(obj) if not isinstance(obj, str) else obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        for k, v in extra:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)

    def forbidden(self, method, path):
        """RBAC's refusal of user me, worded as the real server words it"""
        verb = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch",
                "DELETE": "delete"}.get(method, method.lower())
        pr = parse_res_path(path)
        gv, ent, ns, name = (pr[0], pr[1], pr[2], pr[3]) if pr else ("v1", None, None, None)
        g = gv_split(gv)[0]
        res = ent[0] if ent else "?"
        gr = res if not g else "%s.%s" % (res, g)
        where = ' in the namespace "%s"' % ns if ns else " at the cluster scope"
        return status(403, "Forbidden", '%s%s is forbidden: User "me" cannot %s resource "%s" in '
                      'API group "%s"%s' % (gr, ' "%s"' % name if name else "", verb, res, g, where),
                      {"name": name or "", "group": g, "kind": res})

    def send_huge(self, chunked):
        """a ConfigMap of 65 MiB, as a server with far too much in one
        object would send it"""
        head = b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big"},"data":{"x":"'
        tail = b'"}}'
        fill = 65 << 20
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(head) + fill + len(tail)))
        self.end_headers()
        block = b"a" * (1 << 20)
        try:
            for part in [head] + [block] * (fill >> 20) + [tail]:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part) if chunked else part)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass    # the client stopped reading: what the test wants
        self.close_connection = True

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def authorized(self):
        if not TOKENS and not CLIENT_CA:
            return True
        a = self.headers.get("Authorization", "")
        if a.startswith("Bearer ") and a[7:] in TOKENS:
            return True
        if CLIENT_CA and hasattr(self.connection, "getpeercert"):
            try:
                if self.connection.getpeercert():
                    return True
            except ValueError:
                pass
        return False

    def handle_one(self, method):
        u = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(u.query)
        raw = self.body() if method in ("PATCH", "DELETE", "PUT", "POST") else b""
        logged = u.path
        self.cluster = ""
        if u.path.startswith("/clusters/"):
            parts = u.path.split("/", 3)
            self.cluster = parts[2]
            u = u._replace(path="/" + (parts[3] if len(parts) > 3 else ""))
        if u.path.startswith("/__ctl/"):
            return self.control(u.path, q)
        with lock:
            log.append("%s %s%s" % (method, logged, "?" + u.query if u.query else ""))
            log_times.append(time.time())
            h2_requests[0] += self.http2
            mode = None
            for f in faults:
                if u.path.startswith(f[0]) and f[2] > 0 and \
                        (f[1] != "nodryrun" or q.get("dryRun", [""])[0] == "All"):
                    f[2] -= 1
                    mode = f
                    break
        if mode and mode[1] == "drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if mode and mode[1] == "delay":
            time.sleep(mode[3] / 1000.0)
        if mode and mode[1] in ("huge", "chunked"):
            return self.send_huge(mode[1] == "chunked")
        if mode and mode[1] == "nodryrun":
            return self.send(*status(400, "BadRequest", 'admission webhook "deny.example.com" does '
                                     'not support dry run'))
        if mode and mode[1] == "403":
            return self.send(*self.forbidden(method, u.path))
        if mode and mode[1] == "401":
            return self.send(*status(401, "Unauthorized", "Unauthorized"))
        if mode and mode[1] == "503":
            return self.send(*status(503, "ServiceUnavailable", "the server is currently unable to "
                                     "handle the request"), extra=[("Retry-After", "0")])
        if not self.authorized():
            return self.send(*status(401, "Unauthorized", "Unauthorized"))
        if method == "GET" and q.get("watch", [""])[0] in ("1", "true"):
            return self.watch(u.path, q, mode and mode[1] == "endwatch")
        accept = self.headers.get("Accept") or ""
        if method == "GET" and u.path in ("/api", "/apis") and \
                "as=APIGroupDiscoveryList" in accept and "v=v2;" in accept + ";":
            with lock:
                select(self.cluster)
                doc = aggregated(u.path)
            return self.send(200, doc, AGGREGATED)
        with lock:
            select(self.cluster)
            code, obj = self.route(method, u.path, q, raw)
        if obj is None:
            return self.send(404, "404 page not found\n", "text/plain; charset=utf-8")
        self.send(code, obj)

    def route(self, method, path, q, raw):
        if path == "/version":
            return 200, {"major": "1", "minor": "32", "gitVersion": "v1.32.0", "platform": "linux/amd64"}
        if path.startswith("/openapi/v3"):
            return openapi(path, q)
        if path in ("/api", "/apis", "/api/v1") or (path.startswith("/apis/") and path.count("/") <= 3):
            if method == "GET":
                return discovery(path)
        pr = parse_res_path(path)
        if pr is None:
            return 404, None
        gv, ent, ns, name, sub = pr
        if ent is None:
            return 404, None
        g = gv_split(gv)[0]
        res, kind, nsd = ent[0], ent[1], ent[2]
        if name is None:
            if method == "POST" and sub is None:
                return self.write(g, gv, res, kind, nsd, ns, None, q, raw)
            if method != "GET":
                return status(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
            return self.list(gv, g, res, kind, nsd, ns, q)
        key = (g, res, ns if nsd else None, name)
        if nsd and ns is None:
            return 404, None
        if method == "GET":
            e = store.get(key)
            if e:
                ripen(e)
            if not e:
                return not_found(g, res, name)
            return 200, e["obj"]
        if method == "PUT" and sub is None:
            return self.write(g, gv, res, kind, nsd, ns, name, q, raw)
        if method == "DELETE":
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                return status(400, "BadRequest", "the DeleteOptions body is not JSON")
            return delete(key, kind, g, q, body)
        if method == "PATCH":
            ct = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            try:
                body = json.loads(raw)
            except ValueError:
                return status(400, "BadRequest", "this test server takes JSON bodies only")
            if sub == "status" and status_sub(gv, res):
                if ct not in ("application/merge-patch+json", "application/apply-patch+yaml"):
                    return status(415, "UnsupportedMediaType", "the body of the request was in an unknown format")
                e = store.get(key)
                if not e:
                    return status(404, "NotFound", '%s "%s" not found' % (res, name),
                                  {"name": name, "group": g, "kind": res})
                merge_patch(e["obj"], {"status": body.get("status", {})})
                bump(e["obj"])
                return 200, e["obj"]
            if sub == "scale" and res in SCALABLE:
                return self.scale(key, ct, body, q)
            if sub == "status":
                return not_found(g, res, name)
            if sub is not None:
                return 404, None
            if ct in ("application/strategic-merge-patch+json", "application/merge-patch+json"):
                e = store.get(key)
                if not e:
                    return not_found(g, res, name)
                new = jcopy(e["obj"])
                (strategic_patch if "strategic" in ct else merge_patch)(new, body)
                mgr = manager_of(q, self.headers.get("User-Agent"))
                return 200, update(key, new, mgr, None, q.get("dryRun", [""])[0] == "All")
            if ct != "application/apply-patch+yaml":
                return status(415, "UnsupportedMediaType", "the body of the request was in an "
                              "unknown format - accepted media types include: application/apply-patch+yaml")
            if body.get("apiVersion") != gv or body.get("kind") != kind:
                return status(400, "BadRequest", "the API version in the data (%s) does not match "
                              "the expected API version (%s)" % (body.get("apiVersion"), gv))
            return apply(g, res, ns if nsd else None, name, body, q)
        return status(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

    def watch(self, path, q, end_at_once):
        """a watch of a collection: the events after resourceVersion (or
        ADDED for what exists, without one), as the real server streams
        them, until timeoutSeconds"""
        with lock:
            select(self.cluster)
            pr = parse_res_path(path)
            if pr is None or pr[1] is None or pr[3] is not None:
                return self.send(404, "404 page not found\n", "text/plain; charset=utf-8")
            gv, ent, ns, _, _ = pr
            st = store
        g, res = gv_split(gv)[0], ent[0]
        sel = q.get("labelSelector", [""])[0]
        fsel = q.get("fieldSelector", [""])[0]
        since = q.get("resourceVersion", [""])[0]
        deadline = time.time() + int(q.get("timeoutSeconds", ["1800"])[0])

        def matching():
            out = {}
            for (kg, kr, kns, kname), e in st.items():
                if kg != g or kr != res or (ns is not None and kns != ns):
                    continue
                if fsel.startswith("metadata.name=") and kname != fsel.split("=", 1)[1]:
                    continue
                if selector_match(e["obj"]["metadata"].get("labels", {}), sel):
                    ripen(e)
                    out[(kg, kr, kns, kname)] = e
            return out

        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        with lock:
            seen = matching()
            if since:
                last = int(since)
                events = []
            else:
                last = rv[0]
                events = [("ADDED", e["obj"]) for e in seen.values()]
        try:
            while not end_at_once and time.time() < deadline:
                for t, o in events:
                    line = json.dumps({"type": t, "object": o}).encode() + b"\n"
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                self.wfile.flush()
                with lock:
                    now_seen = matching()
                    events = []
                    for k, e in now_seen.items():
                        if int(e["obj"]["metadata"].get("resourceVersion", "0")) > last:
                            events.append(("ADDED" if k not in seen else "MODIFIED",
                                           jcopy(e["obj"])))
                    events += [("DELETED", jcopy(e["obj"])) for k, e in seen.items()
                               if k not in now_seen]
                    seen = now_seen
                    last = max([last] + [int(o["metadata"].get("resourceVersion", "0"))
                                         for _, o in events])
                    if not events:
                        # a Deployment ripens with time, not with a write:
                        # wake when the first one watched is due
                        due = [e["seen_at"] + AVAILABLE_AFTER / 1000.0 for e in seen.values()
                               if AVAILABLE_AFTER is not None and "seen_at" in e and
                               (e["obj"].get("status") or {}).get("observedGeneration") !=
                               e["obj"]["metadata"].get("generation", 1)]
                        wake = min([deadline] + [max(t, time.time() + 0.002) for t in due])
                        changed.wait(max(min(wake - time.time(), 1.0), 0))
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            pass    # the client went away: the watch is over
        self.close_connection = True

    def scale(self, key, ct, body, q):
        """the scale subresource: a merge patch of spec.replicas, recorded as
        the real server records it (an update of the object's
        spec.replicas, subresource scale), answered with a Scale"""
        e = store.get(key)
        if not e:
            return status(404, "NotFound", '%s "%s" not found' % (key[1], key[3]),
                          {"name": key[3], "group": key[0], "kind": key[1]})
        if ct not in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
            return status(415, "UnsupportedMediaType", "the body of the request was in an unknown format")
        n = (body.get("spec") or {}).get("replicas")
        new = jcopy(e["obj"])
        if isinstance(n, int):
            new.setdefault("spec", {})["replicas"] = n
        o = update(key, new, manager_of(q, self.headers.get("User-Agent")), "scale",
                   q.get("dryRun", [""])[0] == "All")
        md = o["metadata"]
        return 200, {"kind": "Scale", "apiVersion": "autoscaling/v1",
                     "metadata": {k: md[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                                     "creationTimestamp") if k in md},
                     "spec": {"replicas": o.get("spec", {}).get("replicas", 1)},
                     "status": {"replicas": (o.get("status") or {}).get("replicas", 0)}}

    def write(self, g, gv, res, kind, nsd, ns, name, q, raw):
        """create (name None: POST to the collection) or update (PUT), as
        the real server does for a JSON body"""
        try:
            body = json.loads(raw)
        except ValueError:
            return status(400, "BadRequest", "this test server takes JSON bodies only")
        md = body.get("metadata") or {}
        if body.get("apiVersion") != gv or body.get("kind") != kind:
            return status(400, "BadRequest", "the API version in the data (%s) does not match "
                          "the expected API version (%s)" % (body.get("apiVersion"), gv))
        if name is not None and md.get("name") != name:
            return status(400, "BadRequest", "the name of the object (%s) does not match the name on "
                          "the URL (%s)" % (md.get("name"), name))
        name = md.get("name")
        if not name:
            return status(422, "Invalid", "%s \"\" is invalid: metadata.name: Required value: name "
                          "or generateName is required" % kind)
        if nsd and md.get("namespace", ns) != ns:
            return status(400, "BadRequest", "the namespace of the provided object does not match "
                          "the namespace sent on the request")
        bad = ensure_ns(ns if nsd else None)
        if bad:
            return bad
        key = (g, res, ns if nsd else None, name)
        e = store.get(key)
        gr = res if not g else "%s.%s" % (res, g)
        create = self.command == "POST"
        if create and e:
            return status(409, "AlreadyExists", '%s "%s" already exists' % (gr, name),
                          {"name": name, "group": g, "kind": res})
        if not create and not e:
            return not_found(g, res, name)
        if not create and not md.get("resourceVersion") and res in NO_UNCONDITIONAL_UPDATE:
            return status(422, "Invalid", '%s "%s" is invalid: metadata.resourceVersion: Invalid '
                          "value: 0x0: must be specified for an update" % (gr, name),
                          {"name": name, "group": g, "kind": res, "causes": [
                              {"reason": "FieldValueInvalid", "field": "metadata.resourceVersion",
                               "message": "Invalid value: 0x0: must be specified for an update"}]})
        if create and md.get("resourceVersion"):
            return status(500, "InternalError", "resourceVersion should not be set on objects "
                          "to be created")
        if not create and md.get("resourceVersion") and \
                md["resourceVersion"] != e["obj"]["metadata"]["resourceVersion"]:
            return status(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": the object '
                          "has been modified; please apply your changes to the latest version "
                          "and try again" % (gr, name), {"name": name, "group": g, "kind": res})
        cfg = jcopy(body)
        if status_sub(gv, res):
            cfg.pop("status", None)
        cfg["metadata"].pop("resourceVersion", None)
        if nsd:
            cfg["metadata"]["namespace"] = ns
        mgr = manager_of(q, self.headers.get("User-Agent"))
        dry = q.get("dryRun", [""])[0] == "All"
        if not create:
            return 200, update(key, cfg, mgr, None, dry)
        mgr = "%s\0Update\0" % mgr
        e2 = {"mgr": {mgr: cfg}, "ops": {mgr: ("Update", None)}}
        o = rebuild(e2, {})
        o["metadata"].update(uid=new_uid(), creationTimestamp=now(), generation=1)
        default_status(kind, o)
        bump(o)
        e2["obj"] = o
        if not dry:
            store[key] = e2
        return 201, o

    def list(self, gv, g, res, kind, nsd, ns, q):
        sel = q.get("labelSelector", [""])[0]
        fsel = q.get("fieldSelector", [""])[0]
        items = []
        for (kg, kr, kns, kname), e in sorted(store.items(), key=lambda x: str(x[0])):
            if kg != g or kr != res or (ns is not None and kns != ns):
                continue
            if not selector_match(e["obj"]["metadata"].get("labels", {}), sel):
                continue
            if fsel.startswith("metadata.name=") and kname != fsel.split("=", 1)[1]:
                continue
            ripen(e)
            o = jcopy(e["obj"])
            items.append(o)
        return 200, {"kind": kind + "List", "apiVersion": gv, "metadata": {"resourceVersion": str(rv[0])},
                     "items": items}

    def control(self, path, q):
        with lock:
            select(self.cluster)
            if path == "/__ctl/fault":
                faults.append([q["path"][0], q["mode"][0], int(q.get("n", ["1"])[0]),
                               int(q.get("ms", ["0"])[0])])
                return self.send(200, "ok", "text/plain")
            if path == "/__ctl/log":
                if q.get("times", [""])[0] == "1":
                    return self.send(200, "".join("%.6f %s\n" % (t, l) for t, l in zip(log_times, log)),
                                     "text/plain")
                return self.send(200, "".join(l + "\n" for l in log), "text/plain")
            if path == "/__ctl/h2":
                return self.send(200, "%d\n" % h2_requests[0] if h2serve.available() else
                                 "unavailable\n", "text/plain")
            if path == "/__ctl/conns":
                return self.send(200, "%d\n" % conns[0], "text/plain")
            if path == "/__ctl/linger":
                linger[0] = int(q.get("ms", ["0"])[0])
                return self.send(200, "ok", "text/plain")
            if path == "/__ctl/discovery-lag":
                discovery_lag[0] = int(q.get("ms", ["0"])[0])
                return self.send(200, "ok", "text/plain")
            if path == "/__ctl/dump":
                out = []
                for k in sorted(store, key=str):
                    out.append(json.dumps(store[k]["obj"], sort_keys=True))
                return self.send(200, "".join(l + "\n" for l in out), "text/plain")
        self.send(404, "no such control", "text/plain")

    def do_GET(self):
        self.handle_one("GET")

    def do_PATCH(self):
        self.handle_one("PATCH")

    def do_DELETE(self):
        self.handle_one("DELETE")

    def do_PUT(self):
        self.handle_one("PUT")

    def do_POST(self):
        self.handle_one("POST")


def watchdog(parent, deadline):
    while os.getppid() == parent and time.time() < deadline:
        time.sleep(0.2)
    os._exit(0)


def system_namespaces():
    for n in ("default", "kube-system", "kube-public", "kube-node-lease"):
        store[("", "namespaces", None, n)] = {"mgr": {}, "obj": {
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": n, "uid": new_uid(), "creationTimestamp": now(),
                         "resourceVersion": "1"}, "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"}}}


system_namespaces()
threading.Thread(target=watchdog, args=(os.getppid(), time.time() + 600), daemon=True).start()
# a listen backlog of 5 (socketserver's default) drops the SYNs of a
# client that opens more connections at once, and each waits a second
# for its retransmission; real servers listen with a large backlog
http.server.ThreadingHTTPServer.request_queue_size = 128
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
srv.daemon_threads = True
if "--tls" in A:
    i = A.index("--tls")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(A[i + 1], A[i + 2])
    # HTTP/2 for a client that asks, as a real server offers it
    if "--http1" not in A and h2serve.available():
        ctx.set_alpn_protocols(["h2", "http/1.1"])
    if CLIENT_CA:
        ctx.load_verify_locations(CLIENT_CA)
        ctx.verify_mode = ssl.CERT_OPTIONAL
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
try:
    sys.stdout.write("%d\n" % srv.server_address[1])
    sys.stdout.flush()
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
except BrokenPipeError:
    pass
srv.serve_forever()
