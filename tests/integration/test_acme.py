"""ACME (RFC 8555) on the HTTPS listener with real clients: Debian's certbot (standalone
http-01) and lego (http-01, tls-alpn-01, dns-01 through its exec provider), with names
served by a real DNS server (unbound on 127.0.0.1, acme_dns.py) that scepterd's
validation asks (`acme resolver`). The clients trust scepterd's HTTPS certificate, which
scepterd issues itself from its CA, through REQUESTS_CA_BUNDLE (certbot) and
LEGO_CA_CERTIFICATES (lego)."""

import glob
import json
import os
import re
import socket
import ssl
import subprocess
import urllib.request

import pytest

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
