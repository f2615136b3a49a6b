"""The REST API (/api/v1 on the HTTPS listener) against a real scepterd: strongSwan's
`pki --scep` waits while an operator grants its request through the API, the
certificate is found and revoked through it and shows on the CRL; read-only accounts,
CSRF, lockouts and client-certificate logins; and every answer is checked against the
OpenAPI description the server itself serves."""

import copy
import http.client
import json
import os
import re
import ssl
import subprocess

import pytest
from jsonschema import Draft202012Validator

from conftest import LABEL, wait_for
from scep_helpers import ScepServer, StrongSwan

ADMIN_PASSWORD = "Adm1n-pass-word"
VIEWER_PASSWORD = "View-pass-word"


def secure_port(daemon):
    m = re.search(r"HTTP secure server port: (\d+)\n", daemon.sh("show ip http server status"))
    return int(m.group(1)) if m else None


class Api:
    """HTTPS to scepterd, checking the server's certificate against the CA; every JSON
    answer is validated against the OpenAPI document the server serves."""

    def __init__(self, port, ca_pem):
        self.port = port
        self.ca_pem = ca_pem
        self.doc = None
        self.doc = self.call("GET", "/openapi.json").json

    def context(self, cert=None, key=None):
        ctx = ssl.create_default_context(cafile=self.ca_pem)
        if cert:
            ctx.load_cert_chain(cert, key)
        return ctx

    def call(self, method, path, body=None, token=None, headers=None, cert=None, key=None):
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=60,
                                           context=self.context(cert, key))
        h = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        if token:
            h["Authorization"] = f"Bearer {token}"
        conn.request(method, "/api/v1" + path, body=data, headers=h)
        r = conn.getresponse()
        raw = r.read()
        conn.close()
        answer = Answer(r.status, {k.lower(): v for k, v in r.getheaders()}, raw)
        if self.doc is not None:
            self.validate(method, path, answer)
        return answer

    def validate(self, method, path, answer):
        """The answer's status is documented for the path's operation, and a JSON body
        matches the schema documented for it."""
        template = self.template_of(path.split("?")[0])
        assert template, f"{path} is not in the OpenAPI document"
        op = self.doc["paths"][template].get(method.lower())
        assert op, f"{method} {template} is not in the OpenAPI document"
        documented = op["responses"].get(str(answer.status))
        assert documented, f"{method} {template} answered {answer.status}, not documented"
        ctype = answer.headers.get("content-type", "")
        content = documented.get("content", {})
        assert ctype in content, f"{method} {template} {answer.status}: {ctype} not documented"
        schema = content[ctype].get("schema")
        if schema and ctype.endswith("json"):
            Draft202012Validator(self.resolved(schema)).validate(answer.json)

    def template_of(self, path):
        for template in self.doc["paths"]:
            pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
            if re.match(pattern, path):
                return template
        return None

    def resolved(self, schema):
        """`schema` with every #/components/schemas/ reference replaced by its target."""
        if isinstance(schema, dict):
            if "$ref" in schema:
                name = schema["$ref"].rsplit("/", 1)[1]
                return self.resolved(copy.deepcopy(self.doc["components"]["schemas"][name]))
            return {k: self.resolved(v) for k, v in schema.items()}
        if isinstance(schema, list):
            return [self.resolved(v) for v in schema]
        return schema

    def login(self, user, password):
        r = self.call("POST", "/session", {"username": user, "password": password})
        assert r.status == 201, r.body
        return r.json["token"]


class Answer:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def json(self):
        return json.loads(self.body)


@pytest.fixture
def api(daemon, workdir):
    s = ScepServer(daemon, workdir).listen()
    s.create_ca()
    daemon.sh("configure terminal", "ip http secure-port 0", "ip http secure-server",
              f"username admin privilege 15 secret 0 {ADMIN_PASSWORD}",
              f"username viewer secret {VIEWER_PASSWORD}", "end")
    port = wait_for(lambda: secure_port(daemon), timeout=30, what="HTTPS listener")
    s.api = Api(port, s.ca_pem())
    return s


def test_grant_revoke_and_crl_through_the_api(api, workdir):
    token = api.api.login("admin", ADMIN_PASSWORD)
    me = api.api.call("GET", "/session", token=token).json
    assert (me["username"], me["role"], me["method"]) == ("admin", "administrator", "password")

    client = StrongSwan(workdir, "sw1", api.url, api.ca_pem(), 0).start(poll=60)
    try:
        pending = wait_for(lambda: api.api.call(
            "GET", f"/servers/{LABEL}/requests?state=pending", token=token).json["requests"],
            what="the request in the API")
        assert len(pending) == 1 and "cn=sw1" in pending[0]["subject"], pending
        rid = pending[0]["id"]
        shown = api.api.call("GET", f"/servers/{LABEL}/requests/{rid}", token=token)
        assert shown.status == 200 and shown.json["state"] == "pending"
        granted = api.api.call("POST", f"/servers/{LABEL}/requests/{rid}/grant", token=token)
        assert granted.status == 200, granted.body
        rc, out = client.finish()
    finally:
        if client._proc.poll() is None:
            client._proc.kill()
    assert rc == 0, out
    serial = subprocess.run(["openssl", "x509", "-in", client.cert, "-noout", "-serial"],
                            check=True, capture_output=True, text=True).stdout
    raw_serial = serial.strip().split("=")[1]  # even hex digits, as openssl prints
    serial = raw_serial.lstrip("0")

    found = api.api.call("GET", f"/servers/{LABEL}/certificates?subject=SW1&state=valid",
                         token=token).json
    assert found["total"] == 1 and found["certificates"][0]["serial"] == serial, found
    one = api.api.call("GET", f"/servers/{LABEL}/certificates/0x{serial}", token=token).json
    assert one["pem"].strip() == open(client.cert).read().strip()
    assert one["request_id"] == rid

    revoked = api.api.call("POST", f"/servers/{LABEL}/certificates/0x{serial}/revoke",
                           {"reason": "keyCompromise"}, token=token)
    assert revoked.status == 200, revoked.body
    again = api.api.call("POST", f"/servers/{LABEL}/certificates/0x{serial}/revoke", {},
                         token=token)
    assert again.status == 409, again.body
    assert api.api.call("GET", f"/servers/{LABEL}/certificates?state=revoked",
                        token=token).json["total"] == 1

    info = api.api.call("GET", f"/servers/{LABEL}/crl/info", token=token).json
    assert [(e["serial"], e["reason"]) for e in info["entries"]] == [(serial, "keyCompromise")]
    crl = api.api.call("GET", f"/servers/{LABEL}/crl", token=token)
    assert crl.headers["content-type"] == "application/pkix-crl"
    path = os.path.join(workdir, "api.crl")
    with open(path, "wb") as f:
        f.write(crl.body)
    text = subprocess.run(["openssl", "crl", "-inform", "DER", "-in", path, "-noout", "-text"],
                          check=True, capture_output=True, text=True).stdout
    assert f"Serial Number: {raw_serial}" in text, text
    assert "Key Compromise" in text

    otp = api.api.call("POST", f"/servers/{LABEL}/otp", {"minutes": 5}, token=token)
    assert otp.status == 201 and len(otp.json["password"]) >= 8

    # The same audit records the shell writes for these commands.
    audit = api.d.sh("show audit all")
    actor = "api admin from 127.0.0.1"
    for command in (f"crypto pki server {LABEL} grant {rid}",
                    f"crypto pki server {LABEL} revoke 0x{serial} reason keycompromise",
                    f"crypto pki server {LABEL} password generate 5"):
        assert re.search(rf"command {re.escape(actor)} \[{LABEL}\]: {re.escape(command)} \(ok\)",
                         audit), (command, audit)
    assert f"login {actor}: REST API login (password) (ok)" in audit
    assert "verified" in api.d.sh("verify audit")

    assert api.api.call("DELETE", "/session", token=token).status == 200
    assert api.api.call("GET", "/servers", token=token).status == 401


def test_reader_cookie_and_csrf(api):
    viewer = api.api.login("viewer", VIEWER_PASSWORD)
    servers = api.api.call("GET", "/servers", token=viewer).json["servers"]
    assert [s["label"] for s in servers] == [LABEL] and servers[0]["state"] == "enabled"
    refused = api.api.call("POST", f"/servers/{LABEL}/otp", {}, token=viewer)
    assert refused.status == 403, refused.body
    assert re.search(r"command api viewer from 127\.0\.0\.1 \[\S+\]: crypto pki server \S+ "
                     r"password generate 60 \(failed: ", api.d.sh("show audit"))

    # The browser's way: the cookie, and the CSRF token on anything that acts.
    login = api.api.call("POST", "/session", {"username": "admin", "password": ADMIN_PASSWORD})
    cookie = login.headers["set-cookie"].split(";")[0]
    attrs = login.headers["set-cookie"]
    for attr in ("Secure", "HttpOnly", "SameSite=Strict"):
        assert attr in attrs, attrs
    by_cookie = {"Cookie": cookie}
    assert api.api.call("GET", "/session", headers=by_cookie).status == 200
    no_csrf = api.api.call("POST", f"/servers/{LABEL}/otp", {}, headers=by_cookie)
    assert no_csrf.status == 403, no_csrf.body
    wrong = api.api.call("POST", f"/servers/{LABEL}/otp", {},
                         headers={**by_cookie, "X-CSRF-Token": "0" * 64})
    assert wrong.status == 403
    good = api.api.call("POST", f"/servers/{LABEL}/otp", {},
                        headers={**by_cookie, "X-CSRF-Token": login.json["csrf_token"]})
    assert good.status == 201, good.body

    # A form another site posts is not JSON.
    form = api.api.call("POST", "/session", None,
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert form.status in (400, 401)
    # Removing the account ends its sessions.
    api.d.sh("configure terminal", "no username viewer", "end")
    assert api.api.call("GET", "/servers", token=viewer).status == 401


def test_wrong_passwords_lock_the_account(api):
    api.d.sh("configure terminal", "aaa local authentication attempts max-fail 3", "end")
    for _ in range(3):
        r = api.api.call("POST", "/session", {"username": "admin", "password": "guess"})
        assert r.status == 401, r.body
    locked = api.api.call("POST", "/session", {"username": "admin", "password": ADMIN_PASSWORD})
    assert locked.status == 403 and "locked" in locked.json["detail"], locked.body
    assert re.search(r"^admin\s+3\s+cleared by an operator$",
                     api.d.sh("show aaa local user lockout"), re.M)
    api.d.sh("clear aaa local user lockout username admin")
    api.api.login("admin", ADMIN_PASSWORD)

    # Without max-fail: a lock of some minutes after five, and the address's limit.
    api.d.sh("configure terminal", "no aaa local authentication attempts max-fail", "end")
    for _ in range(5):
        assert api.api.call("POST", "/session",
                            {"username": "viewer", "password": "guess"}).status == 401
    r = api.api.call("POST", "/session", {"username": "viewer", "password": VIEWER_PASSWORD})
    assert r.status == 429 and int(r.headers["retry-after"]) > 0, r.body
    for _ in range(5):
        api.api.call("POST", "/session", {"username": "nobody", "password": "guess"})
    r = api.api.call("POST", "/session", {"username": "admin", "password": ADMIN_PASSWORD})
    assert r.status == 429, r.body  # ten wrong passwords from this address within a minute
    audit = api.d.sh("show audit all")
    assert "REST API login (password) (failed: wrong user name or password)" in audit
    assert "refused: the account is locked" in audit


def test_accounts_are_hashed_and_survive_a_restart(api):
    config = api.d.sh("show running-config")
    assert re.search(r"^username admin privilege 15 secret 9 \$9\$\S{14}\$\S{43}$", config, re.M)
    assert re.search(r"^username viewer secret 9 \$9\$", config, re.M)
    assert ADMIN_PASSWORD not in config and ADMIN_PASSWORD not in api.d.sh("show audit all")
    api.d.sh("write memory")
    api.d.restart()
    port = wait_for(lambda: secure_port(api.d), timeout=30, what="HTTPS listener")
    again = Api(port, api.ca_pem())
    assert again.login("admin", ADMIN_PASSWORD)


def test_client_certificate_login(api, workdir):
    client = StrongSwan(workdir, "operator1", api.url, api.ca_pem(), 1)
    api.d.cs("grant auto")
    rc, out = client.run()
    assert rc == 0, out
    der = subprocess.run(["openssl", "x509", "-in", client.cert, "-outform", "DER"],
                         check=True, capture_output=True).stdout
    import hashlib
    fingerprint = hashlib.sha256(der).hexdigest()
    key_pem = os.path.join(workdir, "operator1.key.pem")
    subprocess.run(["openssl", "pkey", "-in", client.key, "-out", key_pem], check=True)

    # Not named by any account: refused, whatever its common name.
    r = api.api.call("POST", "/session", {}, cert=client.cert, key=key_pem)
    assert r.status == 401, r.body
    api.d.sh("configure terminal",
             f"username operator1 privilege 7 certificate sha256 {fingerprint}", "end")
    r = api.api.call("POST", "/session", {}, cert=client.cert, key=key_pem)
    assert r.status == 201, r.body
    assert (r.json["username"], r.json["role"], r.json["method"]) == \
        ("operator1", "operator", "certificate")
    assert re.search(rf"^username operator1 privilege 7 certificate sha256 {fingerprint.upper()}$",
                     api.d.sh("show running-config"), re.M)

    # Revoked, it no longer logs in.
    serial = subprocess.run(["openssl", "x509", "-in", client.cert, "-noout", "-serial"],
                            check=True, capture_output=True, text=True).stdout.split("=")[1]
    api.d.sh(f"crypto pki server {LABEL} revoke 0x{serial.strip()}")
    r = api.api.call("POST", "/session", {}, cert=client.cert, key=key_pem)
    assert r.status == 401, r.body


def test_every_documented_operation_answers(api):
    """Each path and method of the OpenAPI document is served (never a bare 404 for the
    route itself), and what is not documented is not served."""
    token = api.api.login("admin", ADMIN_PASSWORD)
    samples = {"{label}": LABEL, "{id}": "999", "{serial}": "0x7777"}
    for template, ops in api.api.doc["paths"].items():
        path = template
        for k, v in samples.items():
            path = path.replace(k, v)
        for method in ops:
            if method == "parameters" or (template == "/session" and method != "get"):
                continue
            if template == "/events":
                continue  # a stream that does not end: test_api_events.py reads it
            body = {} if method == "post" else None
            r = api.api.call(method.upper(), path, body, token=token)
            assert r.status != 405, (method, path, r.body)
            if r.status == 404:
                assert "No such resource" not in r.json["detail"], (method, path)
    api.api.doc, doc = None, api.api.doc  # the answers below are not documented: on purpose
    try:
        for path in ("/nothing", "/servers/x/y/z", "//servers", "/servers/"):
            r = api.api.call("GET", path, token=token)
            assert r.status == 404, (path, r.status)
        r = api.api.call("PUT", "/servers", token=token)
        assert r.status == 405 and "GET" in r.headers["allow"]
    finally:
        api.api.doc = doc
