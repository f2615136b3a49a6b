"""ACME (RFC 8555) on the HTTPS listener with real clients: Debian's certbot (standalone
http-01) and lego (http-01, tls-alpn-01, dns-01 through its exec provider), with names
served by a real DNS server (unbound on 127.0.0.1, acme_dns.py) that scepterd's
validation asks (`acme resolver`). The clients trust scepterd's HTTPS certificate, which
scepterd issues itself from its CA, through REQUESTS_CA_BUNDLE (certbot) and
LEGO_CA_CERTIFICATES (lego)."""

import base64
import glob
import http.client
import json
import os
import re
import socket
import ssl
import subprocess
import urllib.request

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils

from acme_dns import Unbound
from conftest import LABEL, openssl, wait_for
from scep_helpers import ScepServer
from test_est import secure_port

ZONE = "example.test"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Acme:
    def __init__(self, server, workdir, dns):
        self.s = server
        self.d = server.d
        self.workdir = workdir
        self.dns = dns
        self.https = None

    @property
    def directory(self):
        return f"https://127.0.0.1:{self.https}/acme/{LABEL}/directory"

    def ca_pem(self):
        return self.s.ca_pem()

    def env(self):
        return dict(os.environ, REQUESTS_CA_BUNDLE=self.ca_pem(),
                    LEGO_CA_CERTIFICATES=self.ca_pem())

    def certbot(self, name, *args, timeout=180):
        """certbot with its directories under the test's own (one per `name`)."""
        base = os.path.join(self.workdir, "certbot-" + name)
        cmd = ["certbot", *args, "--non-interactive", "--config-dir", base + "/config",
               "--work-dir", base + "/work", "--logs-dir", base + "/logs",
               "--server", self.directory]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=self.env())
        log = ""
        for f in glob.glob(base + "/logs/letsencrypt.log"):
            with open(f) as fh:
                log = fh.read()[-6000:]
        return r.returncode, r.stdout + r.stderr + log, base

    def lego(self, name, *args, extra_env=None, timeout=180):
        path = os.path.join(self.workdir, "lego-" + name)
        env = self.env()
        env.update(extra_env or {})
        cmd = ["lego", "--server", self.directory, "--path", path, "--accept-tos",
               "--email", f"{name}@{ZONE}", *args]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        return r.returncode, r.stdout + r.stderr, path

    def get(self, path):
        ctx = ssl.create_default_context(cafile=self.ca_pem())
        with urllib.request.urlopen(f"https://127.0.0.1:{self.https}{path}", context=ctx,
                                    timeout=30) as r:
            return r.status, dict(r.headers), r.read()


@pytest.fixture
def acme(daemon, workdir):
    dns = Unbound(ZONE + ".").start()
    try:
        s = ScepServer(daemon, workdir).listen()
        s.create_ca("grant auto acme", f"acme allow dns {ZONE}", "acme allow connect 127.0.0.0/8",
                    f"acme resolver {dns.resolver}", "acme")
        daemon.sh("configure terminal", "ip http secure-port 0", "ip http secure-server", "end")
        a = Acme(s, workdir, dns)
        a.https = wait_for(lambda: secure_port(daemon), timeout=30, what="HTTPS listener")
        yield a
    finally:
        dns.stop()


def cert_text(path):
    rc, out = openssl("x509", "-in", path, "-noout", "-text")
    assert rc == 0, out
    return out


def test_directory_and_nonce(acme):
    status, headers, body = acme.get(f"/acme/{LABEL}/directory")
    assert status == 200
    d = json.loads(body)
    base = f"https://127.0.0.1:{acme.https}/acme/{LABEL}/"
    assert d["newNonce"] == base + "new-nonce" and d["newAccount"] == base + "new-account"
    assert d["meta"]["externalAccountRequired"] is False
    status, headers, _ = acme.get(f"/acme/{LABEL}/new-nonce")
    assert status == 204 and re.fullmatch(r"[A-Za-z0-9_-]{22}", headers["Replay-Nonce"])
    assert headers["Cache-Control"] == "no-store"


def test_certbot_http01_issue_renew_revoke(acme, workdir):
    name = "www." + ZONE
    acme.dns.add(f"{name}. A 127.0.0.1")
    port = free_port()
    acme.d.sh("configure terminal", f"crypto pki server {LABEL}", f"acme http-port {port}", "end")
    rc, out, base = acme.certbot(
        "one", "certonly", "--standalone", "--agree-tos", "--register-unsafely-without-email",
        "--http-01-port", str(port), "--http-01-address", "127.0.0.1", "-d", name)
    assert rc == 0, out
    cert = os.path.join(base, "config/live", name, "cert.pem")
    text = cert_text(cert)
    assert f"DNS:{name}" in text, text
    rc, out = openssl("verify", "-CAfile", acme.ca_pem(), cert)
    assert rc == 0, out
    # The request is in the CA's database like any other, marked as an ACME order's.
    requests = acme.d.sh(f"crypto pki server {LABEL} info requests")
    assert "ACME order" in requests, requests
    show = acme.d.sh(f"show crypto pki server {LABEL} acme")
    assert "ACME accounts of certificate server" in show and f"dns:{name}" in show, show

    # Renewal: a new order, validated again, a new certificate.
    rc, out, _ = acme.certbot(
        "one", "certonly", "--standalone", "--force-renewal", "--http-01-port", str(port),
        "--http-01-address", "127.0.0.1", "-d", name)
    assert rc == 0, out
    renewed = os.path.join(base, "config/live", name, "cert.pem")
    rc, first = openssl("x509", "-in", os.path.join(base, "config/archive", name, "cert1.pem"),
                        "-noout", "-serial")
    rc, second = openssl("x509", "-in", renewed, "-noout", "-serial")
    assert first != second

    # Revocation by the account, with a reason: on the CRL at once.
    rc, out, _ = acme.certbot("one", "revoke", "--cert-path", renewed, "--reason",
                              "keycompromise", "--no-delete-after-revoke")
    assert rc == 0, out
    serial = second.strip().split("=")[1].lstrip("0")
    crl = acme.d.sh(f"crypto pki server {LABEL} info crl")
    assert serial.upper() in crl.upper(), crl


def test_a_name_outside_the_allowed_suffixes_is_refused(acme):
    rc, out, _ = acme.certbot(
        "bad", "certonly", "--standalone", "--agree-tos", "--register-unsafely-without-email",
        "--http-01-port", str(free_port()), "--http-01-address", "127.0.0.1",
        "-d", "www.example.org")
    assert rc != 0
    assert "rejectedIdentifier" in out, out


def lego_dns_hook(acme, workdir):
    """lego's exec provider: a script that puts the TXT record into unbound."""
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(workdir, "lego-dns-hook.sh")
    with open(path, "w") as f:
        f.write(f'#!/bin/sh\nexec python3 {here}/acme_dns.py "$@"\n')
    os.chmod(path, 0o755)
    return {"EXEC_PATH": path, "ACME_DNS_UNBOUND_CONF": acme.dns.conf,
            "EXEC_POLLING_INTERVAL": "1", "EXEC_PROPAGATION_TIMEOUT": "30"}


def test_lego_http01_tls_alpn01_and_dns01(acme, workdir):
    names = {kind: f"{kind}.{ZONE}" for kind in ("http", "tls", "dns")}
    for name in names.values():
        acme.dns.add(f"{name}. A 127.0.0.1")
    http_port, tls_port = free_port(), free_port()
    acme.d.sh("configure terminal", f"crypto pki server {LABEL}", f"acme http-port {http_port}",
              f"acme tls-port {tls_port}", "end")
    rc, out, path = acme.lego("http", "--domains", names["http"], "--http", "--http.port",
                              f"127.0.0.1:{http_port}", "run")
    assert rc == 0, out
    rc, out, path = acme.lego("tls", "--domains", names["tls"], "--tls", "--tls.port",
                              f"127.0.0.1:{tls_port}", "run")
    assert rc == 0, out
    rc, out, path = acme.lego("dns", "--domains", names["dns"], "--domains", f"*.{names['dns']}",
                              "--dns", "exec", "--dns.disable-cp", "run",
                              extra_env=lego_dns_hook(acme, workdir))
    assert rc == 0, out
    cert = os.path.join(path, "certificates", names["dns"] + ".crt")
    text = cert_text(cert)
    assert f"DNS:{names['dns']}" in text and f"DNS:*.{names['dns']}" in text, text

    # Renewal and revocation through lego: the revoked certificate is on the CRL.
    rc, out, path = acme.lego("http", "--domains", names["http"], "--http", "--http.port",
                              f"127.0.0.1:{http_port}", "renew", "--days", "1000",
                              "--no-random-sleep")
    assert rc == 0, out
    rc, serial = openssl("x509", "-in", os.path.join(path, "certificates", names["http"] + ".crt"),
                         "-noout", "-serial")
    assert rc == 0, serial
    rc, out, path = acme.lego("http", "--domains", names["http"], "revoke", "--reason", "4")
    assert rc == 0, out
    crl = acme.d.sh(f"crypto pki server {LABEL} info crl")
    assert serial.strip().split("=")[1].lstrip("0").upper() in crl.upper(), crl
    assert "superseded" in crl, crl


def test_external_account_binding_is_required_once_a_key_exists(acme, workdir):
    out = acme.d.sh("configure terminal", f"crypto pki server {LABEL}", "acme eab team-a", "end")
    m = re.search(r"HMAC key \(base64url\)\s+(\S+)", out)
    assert m, out
    hmac = m.group(1)
    name = "eab." + ZONE
    acme.dns.add(f"{name}. A 127.0.0.1")
    port = free_port()
    acme.d.sh("configure terminal", f"crypto pki server {LABEL}", f"acme http-port {port}", "end")
    common = ("certonly", "--standalone", "--agree-tos", "--register-unsafely-without-email",
              "--http-01-port", str(port), "--http-01-address", "127.0.0.1", "-d", name)
    rc, out, _ = acme.certbot("noeab", *common)
    assert rc != 0 and "externalAccountRequired" in out, out
    rc, out, _ = acme.certbot("eab", *common, "--eab-kid", "team-a", "--eab-hmac-key", hmac)
    assert rc == 0, out
    # The key binds one account only.
    rc, out, _ = acme.certbot("eab2", *common, "--eab-kid", "team-a", "--eab-hmac-key", hmac)
    assert rc != 0 and "unauthorized" in out, out


class Pebble:
    """Let's Encrypt's test server (Debian's pebble) on 127.0.0.1, validating through the
    same unbound and on the same ports as scepterd, with its artificial sleeps and nonce
    rejections off. Its HTTPS certificate is a self-signed one made here."""

    def __init__(self, workdir, resolver, http_port, tls_port):
        self.dir = os.path.join(workdir, "pebble")
        os.makedirs(self.dir)
        self.cert = os.path.join(self.dir, "cert.pem")
        key = os.path.join(self.dir, "key.pem")
        rc, out = openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
                          "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out",
                          self.cert, "-subj", "/CN=pebble", "-addext",
                          "subjectAltName=IP:127.0.0.1", "-days", "2")
        assert rc == 0, out
        self.port = free_port()
        config = {"pebble": {"listenAddress": f"127.0.0.1:{self.port}",
                             "managementListenAddress": f"127.0.0.1:{free_port()}",
                             "certificate": self.cert, "privateKey": key,
                             "httpPort": http_port, "tlsPort": tls_port,
                             "ocspResponderURL": "", "externalAccountBindingRequired": False}}
        self.config = os.path.join(self.dir, "pebble.json")
        with open(self.config, "w") as f:
            json.dump(config, f)
        self.resolver = resolver
        self.proc = None

    def start(self):
        env = dict(os.environ, PEBBLE_VA_NOSLEEP="1", PEBBLE_WFE_NONCEREJECT="0")
        self.log = open(os.path.join(self.dir, "pebble.log"), "w")
        self.proc = subprocess.Popen(["pebble", "-config", self.config, "-dnsserver",
                                      self.resolver], stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env)

        def up():
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", self.port)) == 0
        wait_for(up, timeout=30, what="pebble")
        return self

    def stop(self):
        if self.proc:
            self.proc.kill()
            self.proc.wait()
            self.log.close()

    @property
    def directory(self):
        return f"https://127.0.0.1:{self.port}/dir"


def test_the_same_clients_against_pebble(acme, workdir):
    """Pebble as the conformance peer: certbot (http-01) and lego (tls-alpn-01, dns-01
    with a wildcard) make the same runs against Pebble and scepterd; both must issue.
    Where the two differ, the user guide's "ACME" section says why."""
    http_port, tls_port = free_port(), free_port()
    acme.d.sh("configure terminal", f"crypto pki server {LABEL}", f"acme http-port {http_port}",
              f"acme tls-port {tls_port}", "end")
    for kind in ("certbot", "tls", "dns"):
        acme.dns.add(f"{kind}.peer.{ZONE}. A 127.0.0.1")
    pebble = Pebble(workdir, acme.dns.resolver, http_port, tls_port).start()
    try:
        servers = {"scepterd": (acme.directory, acme.ca_pem()),
                   "pebble": (pebble.directory, pebble.cert)}
        for server, (directory, cafile) in servers.items():
            env = dict(os.environ, REQUESTS_CA_BUNDLE=cafile, LEGO_CA_CERTIFICATES=cafile)
            base = os.path.join(workdir, f"peer-{server}")
            r = subprocess.run(
                ["certbot", "certonly", "--standalone", "--non-interactive", "--agree-tos",
                 "--register-unsafely-without-email", "--config-dir", base + "/certbot",
                 "--work-dir", base + "/work", "--logs-dir", base + "/logs", "--server",
                 directory, "--http-01-port", str(http_port), "--http-01-address", "127.0.0.1",
                 "-d", f"certbot.peer.{ZONE}"], capture_output=True, text=True, timeout=180,
                env=env)
            assert r.returncode == 0, f"{server}: {r.stdout}{r.stderr}"
            lego = ["lego", "--server", directory, "--path", base + "/lego", "--accept-tos",
                    "--email", f"peer@{ZONE}"]
            r = subprocess.run(lego + ["--domains", f"tls.peer.{ZONE}", "--tls", "--tls.port",
                                       f"127.0.0.1:{tls_port}", "run"],
                               capture_output=True, text=True, timeout=180, env=env)
            assert r.returncode == 0, f"{server}: {r.stdout}{r.stderr}"
            env.update(lego_dns_hook(acme, workdir))
            r = subprocess.run(lego + ["--domains", f"dns.peer.{ZONE}", "--domains",
                                       f"*.dns.peer.{ZONE}", "--dns", "exec", "--dns.disable-cp",
                                       "run"], capture_output=True, text=True, timeout=180,
                               env=env)
            assert r.returncode == 0, f"{server}: {r.stdout}{r.stderr}"
    finally:
        pebble.stop()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class PyClient:
    """A minimal ACME client of the test's own (cryptography's ECDSA): what certbot and
    lego never send."""

    def __init__(self, acme):
        self.acme = acme
        self.key = ec.generate_private_key(ec.SECP256R1())
        n = self.key.public_key().public_numbers()
        self.jwk = {"crv": "P-256", "kty": "EC", "x": b64url(n.x.to_bytes(32, "big")),
                    "y": b64url(n.y.to_bytes(32, "big"))}
        self.base = f"https://127.0.0.1:{acme.https}/acme/{LABEL}/"

    def request(self, method, path, body=None, content_type="application/jose+json"):
        ctx = ssl.create_default_context(cafile=self.acme.ca_pem())
        conn = http.client.HTTPSConnection("127.0.0.1", self.acme.https, context=ctx, timeout=30)
        headers = {"Content-Type": content_type} if body is not None else {}
        conn.request(method, f"/acme/{LABEL}/{path}", body=body, headers=headers)
        r = conn.getresponse()
        out = (r.status, r.getheader("Content-Type"), r.read(), r.getheader("Replay-Nonce"))
        conn.close()
        return out

    def nonce(self):
        return self.request("HEAD", "new-nonce")[3]

    def jws(self, path, payload, nonce, kid=None):
        protected = {"alg": "ES256", "nonce": nonce, "url": self.base + path}
        if kid:
            protected["kid"] = kid
        else:
            protected["jwk"] = self.jwk
        p64 = b64url(json.dumps(protected).encode())
        pl64 = "" if payload is None else b64url(json.dumps(payload).encode())
        r, s = utils.decode_dss_signature(
            self.key.sign(f"{p64}.{pl64}".encode(), ec.ECDSA(hashes.SHA256())))
        sig = b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
        return json.dumps({"protected": p64, "payload": pl64, "signature": sig})


def problem_of(answer):
    status, content_type, body, nonce = answer
    assert content_type == "application/problem+json", answer
    p = json.loads(body)
    assert p["status"] == status, p
    return status, p["type"].removeprefix("urn:ietf:params:acme:error:")


def test_bad_requests_get_problem_documents(acme):
    c = PyClient(acme)
    body = c.jws("new-account", {"termsOfServiceAgreed": True}, c.nonce())
    status, _, _, fresh = c.request("POST", "new-account", body)
    assert status == 201 and fresh
    # The same request again: its nonce is spent.
    assert problem_of(c.request("POST", "new-account", body)) == (400, "badNonce")
    # Not a JWS, not JOSE, signed for another URL.
    assert problem_of(c.request("POST", "new-order", '{"protected": 1}')) == (400, "malformed")
    assert problem_of(c.request("POST", "new-order", "{}", "application/json"))[0] == 415
    wrong = c.jws("new-account", {"termsOfServiceAgreed": True}, c.nonce())
    assert problem_of(c.request("POST", "new-order", wrong)) == (401, "unauthorized")
    # Too large for the service, and too large for the listener itself.
    assert problem_of(c.request("POST", "new-order", "x" * (70 * 1024))) == (413, "malformed")
    assert problem_of(c.request("POST", "new-order", "x" * (200 * 1024))) == (413, "malformed")
    # Nothing of it left a trace in the CA's database.
    assert acme.d.requests() == []


def test_accounts_and_orders_survive_a_restart(acme):
    """ACME's accounts and orders are in the CA's database, not in memory."""
    acme.d.sh("configure terminal", f"ip http secure-port {acme.https}", "end")
    c = PyClient(acme)
    status, _, _, _ = c.request("POST", "new-account",
                                c.jws("new-account", {"termsOfServiceAgreed": True}, c.nonce()))
    assert status == 201
    order = {"identifiers": [{"type": "dns", "value": "kept." + ZONE}]}
    # The account URL: the Location of newAccount, which finds the account of a known key.
    ctx = ssl.create_default_context(cafile=acme.ca_pem())
    conn = http.client.HTTPSConnection("127.0.0.1", acme.https, context=ctx, timeout=30)
    conn.request("POST", f"/acme/{LABEL}/new-account",
                 body=c.jws("new-account", {"onlyReturnExisting": True}, c.nonce()),
                 headers={"Content-Type": "application/jose+json"})
    r = conn.getresponse()
    r.read()
    kid = r.getheader("Location")
    conn.close()
    status, _, body, _ = c.request("POST", "new-order", c.jws("new-order", order, c.nonce(), kid))
    assert status == 201, body
    acme.d.sh("write memory")
    acme.d.restart()
    wait_for(lambda: secure_port(acme.d) == acme.https, timeout=30, what="HTTPS listener")
    status, _, body, _ = c.request("POST", kid.split(f"/acme/{LABEL}/")[1],
                                   c.jws(kid.split(f"/acme/{LABEL}/")[1], None, c.nonce(), kid))
    assert status == 200, body
    assert json.loads(body)["status"] == "valid"
    show = acme.d.sh(f"show crypto pki server {LABEL} acme")
    assert f"dns:kept.{ZONE}" in show, show
