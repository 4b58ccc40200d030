#!/usr/bin/env python3
"""The OpenAPI description (docs/openapi.json, issue 15 item 3) against the server.

(a) Every route of server/http/router.c's table is described, and every described
    operation is a route of the table.
(b) Every described operation is called on a real airliftd (127.0.0.1, port 0) with a seeded
    fleet (a product, devices, signed images, a release, a rollout, updates): each answers
    with a status the description lists for it, in the media type it gives, and a JSON body
    that has the schema's required fields with their types (a small validator below: $ref,
    allOf, oneOf, type, required, properties, items, enum, const, pattern). Errors too: the
    error shape on 400, 401, 403, 404, 409 and 415.

usage: test_openapi.py SOURCE_DIR AIRLIFTD AIRLIFT_CLI
Python 3 standard library only.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

SRC, AIRLIFTD, AIRLIFT = sys.argv[1:4]
failures = []


def check(ok, what):
    print(("ok - " if ok else "FAIL - ") + what)
    if not ok:
        failures.append(what)
    return ok


with open(os.path.join(SRC, "docs/openapi.json"), encoding="utf-8") as f:
    spec = json.load(f)
check(spec.get("openapi", "").startswith("3.1"), "docs/openapi.json is OpenAPI 3.1")

# ---- (a) the route table and the description name the same operations ----
with open(os.path.join(SRC, "server/http/router.c"), encoding="utf-8") as f:
    router = f.read()
table = router[router.index("static const struct route routes[] = {"):]
table = table[:table.index("};")]
routes = set(re.findall(r'\{"([A-Z]+)", "([^"]+)",', table))
# issue 14 (ddi): hawkBit's DDI API for linux devices (/{tenant}/controller/v1/...) is not the
# management API; docs/ddi.md describes it and tests/e2e/e2e_swupdate.sh drives it.
routes = {r for r in routes if not r[1].startswith("/{}/controller/")}
described = set()
for path, ops in spec["paths"].items():
    for method in ops:
        described.add((method.upper(), re.sub(r"\{[a-z_]+\}", "{}", path)))
check(len(routes) >= 30, f"router.c's table has {len(routes)} routes")
for m, p in sorted(routes - described):
    check(False, f"route {m} {p} is described in docs/openapi.json")
for m, p in sorted(described - routes):
    check(False, f"described {m} {p} is a route of router.c")
check(routes == described, "every route is described and every description is a route")


# ---- a small JSON Schema validator (the subset docs/openapi.json uses) ----
def resolve(schema):
    while "$ref" in schema:
        node = spec
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def type_ok(value, t):
    if t == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if t == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, TYPES[t])


def validate(value, schema, where="body"):
    """The list of ways value breaks schema (empty: it conforms)."""
    schema = resolve(schema)
    errs = []
    for sub in schema.get("allOf", []):
        errs += validate(value, sub, where)
    if "oneOf" in schema:
        results = [validate(value, sub, where) for sub in schema["oneOf"]]
        if all(results):
            errs.append(f"{where}: matches none of oneOf ({results[0][0]})")
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(type_ok(value, t) for t in types):
            return errs + [f"{where}: {json.dumps(value)[:60]} is not {'/'.join(types)}"]
    if "const" in schema and value != schema["const"]:
        errs.append(f"{where}: {value!r} is not {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        errs.append(f"{where}: {value!r} is not one of {schema['enum']}")
    if "pattern" in schema and isinstance(value, str) and not re.search(schema["pattern"], value):
        errs.append(f"{where}: {value!r} does not match {schema['pattern']}")
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                errs.append(f"{where}: required field '{key}' is missing")
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                errs += validate(value[key], sub, f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value[:50]):
            errs += validate(item, schema["items"], f"{where}[{i}]")
    return errs


# ---- (b) a real airliftd with a seeded fleet ----
work = tempfile.mkdtemp(prefix="airlift-openapi.")
server = subprocess.Popen([AIRLIFTD, "--data-dir", os.path.join(work, "data"),
                           "--http-listen", "127.0.0.1:0", "--coap-listen", "127.0.0.1:0",
                           "--port-file", os.path.join(work, "port"),
                           "--admin-token-file", os.path.join(work, "token")],
                          stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "log"), "w"))


def cleanup():
    server.terminate()
    server.wait(timeout=20)
    if not failures:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"kept {work}")


try:
    for _ in range(200):
        if os.path.exists(os.path.join(work, "port")) and os.path.getsize(os.path.join(work, "port")):
            break
        time.sleep(0.05)
    with open(os.path.join(work, "port")) as f:
        base = "http://127.0.0.1:" + f.readline().strip()
    with open(os.path.join(work, "token")) as f:
        admin = f.read().strip()

    def image(name, version):
        raw = os.path.join(work, name + ".bin")
        with open(raw, "wb") as f:
            f.write(os.urandom(2000))
        out = os.path.join(work, name + ".alim")
        subprocess.run([AIRLIFT, "image", "create", "--key", os.path.join(work, "k.pem"), "-o", out,
                        "--function", "application", "--index", "1", "--platform", "10",
                        "--version", version, "--link-address", "0x08080000", raw],
                       check=True, stdout=subprocess.DEVNULL)
        with open(out, "rb") as f:
            return f.read()

    subprocess.run([AIRLIFT, "keys", "generate", "--out", os.path.join(work, "k.pem")], check=True,
                   stdout=subprocess.DEVNULL)
    called = set()

    def call(method, template, path=None, body=None, token=admin, ctype="application/json",
             want=None):
        """Call an operation; check status, media type and body against the description."""
        path = path or template
        op = spec["paths"][template][method.lower()]
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
        req = urllib.request.Request(base + path, data=data, method=method)
        if token:
            req.add_header("Authorization", "Bearer " + token)
        if data is not None:
            req.add_header("Content-Type", ctype)
        try:
            resp = urllib.request.urlopen(req, timeout=20)
        except urllib.error.HTTPError as e:
            resp = e
        status = resp.status if hasattr(resp, "status") else resp.code
        got_type = resp.headers.get("Content-Type", "")
        if got_type == "text/event-stream":
            raw = resp.read(1)  # the stream stays open: its first byte is enough
        else:
            raw = resp.read()
        resp.close()
        what = f"{method} {path} -> {status}"
        if want is not None and not check(status == want, f"{what} (expected {want})"):
            return None
        described_r = op["responses"].get(str(status))
        if not check(described_r is not None, f"{what}: a status docs/openapi.json lists"):
            return None
        if 200 <= status < 300:
            called.add((method.upper(), template))
        content = described_r.get("content")
        if not content:
            check(raw == b"", f"{what}: no body, as described")
            return None
        media = next(iter(content))
        check(got_type == media, f"{what}: Content-Type {got_type} is the described {media}")
        if media != "application/json":
            return raw
        doc = json.loads(raw)
        errs = validate(doc, content[media]["schema"])
        check(not errs, f"{what}: the body has the described fields and types"
              + (": " + "; ".join(errs[:3]) if errs else ""))
        return doc

    H = "application/octet-stream"
    call("GET", "/v1/health", token=None, want=200)
    call("GET", "/v1/ready", token=None, want=200)
    call("GET", "/metrics", want=200)
    call("GET", "/metrics", token=None, want=401)
    t = call("POST", "/v1/tokens", body={"name": "ci", "scope": "read"}, want=201)
    read = t["token"]
    call("GET", "/v1/tokens", want=200)
    call("GET", "/v1/whoami", want=200)
    call("GET", "/v1/whoami", token=None, want=401)
    call("POST", "/v1/products", body={"name": "tracker", "platform": "electron"}, want=201)
    call("GET", "/v1/products", want=200)
    call("GET", "/v1/products/{name}", "/v1/products/tracker", want=200)
    call("GET", "/v1/products/{name}", "/v1/products/trakcer", want=404)
    call("POST", "/v1/devices", body={"name": "d1", "platform": 10, "product": "tracker",
                                      "groups": ["field"]}, want=201)
    call("POST", "/v1/devices", body={"devices": [{"name": "d2", "platform": 10},
                                                  {"name": "d3", "platform": "electron"}]}, want=201)
    call("POST", "/v1/devices", body={"name": "d4", "platform": 10}, token=read, want=403)
    call("POST", "/v1/devices", body=b"{nope", want=400)
    call("POST", "/v1/devices", body={"name": "d4"}, want=400)
    call("POST", "/v1/devices", body={"name": "d4", "platform": 10}, ctype="text/plain", want=415)
    call("POST", "/v1/devices", body={"name": "d1", "platform": 10}, want=409)
    call("GET", "/v1/devices", want=200)
    call("GET", "/v1/devices", "/v1/devices?product=tracker&limit=1&count=true", want=200)
    call("GET", "/v1/devices/{name}", "/v1/devices/d1", want=200)
    call("GET", "/v1/devices/{name}", "/v1/devices/nope", want=404)
    call("PATCH", "/v1/devices/{name}", "/v1/devices/d2", body={"channel": "beta"}, want=200)
    img1 = call("POST", "/v1/images", body=image("app1", "1.0.0"), ctype=H, want=201)
    img2 = call("POST", "/v1/images", body=image("app2", "2.0.0"), ctype=H, want=201)
    img3 = call("POST", "/v1/images", body=image("app3", "3.0.0"), ctype=H, want=201)
    call("GET", "/v1/images", want=200)
    call("GET", "/v1/images", "/v1/images?function=application&platform=10", want=200)
    call("GET", "/v1/images/{id}", "/v1/images/" + img1["id"], want=200)
    call("GET", "/v1/images/{id}/blob", "/v1/images/" + img1["id"] + "/blob", want=200)
    call("POST", "/v1/products/{name}/releases", "/v1/products/tracker/releases",
         body={"version": "1.0.0", "images": [img1["sha256"]]}, want=201)
    call("GET", "/v1/products/{name}/releases", "/v1/products/tracker/releases", want=200)
    call("GET", "/v1/products/{name}/releases/{version}", "/v1/products/tracker/releases/1.0.0", want=200)
    ro = {"product": "tracker", "release": "1.0.0", "target": {"groups": ["field"]}}
    call("POST", "/v1/rollouts", body=dict(ro, dry_run=True), want=200)
    r = call("POST", "/v1/rollouts", body=ro, want=201)
    call("GET", "/v1/rollouts", want=200)
    call("GET", "/v1/rollouts/{id}", f"/v1/rollouts/{r['id']}", want=200)
    call("GET", "/v1/rollouts/{id}/devices", f"/v1/rollouts/{r['id']}/devices", want=200)
    call("POST", "/v1/rollouts/{id}/{action}", f"/v1/rollouts/{r['id']}/pause", want=200)
    u = call("POST", "/v1/devices/{name}/updates", "/v1/devices/d2/updates",
             body={"images": [img2["sha256"]]}, want=201)
    call("POST", "/v1/devices/{name}/updates", "/v1/devices/d2/updates",
         body={"images": [img2["sha256"]]}, want=409)
    call("GET", "/v1/devices/{name}/updates", "/v1/devices/d2/updates", want=200)
    call("GET", "/v1/updates/{id}", f"/v1/updates/{u['id']}", want=200)
    call("POST", "/v1/updates/{id}/cancel", f"/v1/updates/{u['id']}/cancel", want=200)
    call("GET", "/v1/events", "/v1/events?limit=5", want=200)
    call("GET", "/v1/events/stream", "/v1/events/stream?after=0", want=200)
    call("GET", "/v1/fleet/versions", want=200)
    call("GET", "/v1/usage", want=200)
    call("DELETE", "/v1/images/{id}", "/v1/images/" + img1["id"], want=409)
    call("DELETE", "/v1/images/{id}", "/v1/images/" + img3["id"], want=200)
    call("DELETE", "/v1/devices/{name}", "/v1/devices/d3", want=204)
    call("DELETE", "/v1/tokens/{id}", f"/v1/tokens/{t['id']}", want=204)

    every = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    for m, p in sorted(every - called):
        check(False, f"{m} {p} was called and answered as described")
    check(every <= called, f"all {len(every)} described operations answered a 2xx as described")
finally:
    cleanup()

print(f"{len(failures)} failed")
sys.exit(1 if failures else 0)
