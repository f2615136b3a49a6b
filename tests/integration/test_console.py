"""The web console in a real browser: Debian's chromium driven by playwright-core
(tests/browser/console.mjs). An operator logs in, watches strongSwan's SCEP request
arrive, grants it, finds and revokes the certificate, fetches the CRL, checks the phone
layout and the labels, logs out, and locks the account with wrong passwords.
Screenshots of each step go to $SCEPTER_ARTIFACTS/console (else a kept temporary
directory); the test prints where."""

import base64
import json
import os
import re
import shutil
import ssl
import subprocess
import tempfile
import urllib.request

import pytest

from conftest import LABEL, wait_for
from scep_helpers import ScepServer, StrongSwan

ADMIN_PASSWORD = "Adm1n-pass-word"
HERE = os.path.dirname(os.path.abspath(__file__))
BROWSER_DIR = os.path.join(HERE, "..", "browser")
CHROMIUM = os.environ.get("SCEPTER_CHROMIUM", "/usr/lib/chromium/chromium")


def secure_port(daemon):
    m = re.search(r"HTTP secure server port: (\d+)\n", daemon.sh("show ip http server status"))
    return int(m.group(1)) if m else None


def browser_tools():
    """A directory with playwright-core installed by `npm ci` from tests/browser's lock
    file (kept under the build directory and reused while the lock file is the same)."""
    npm = shutil.which("npm")
    if not npm or not shutil.which("node"):
        pytest.skip("node and npm are needed to drive the browser (apt-get install nodejs npm)")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium)")
    base = os.environ.get("SCEPTER_BIN_DIR") or tempfile.gettempdir()
    tools = os.path.join(base, "browser-test")
    os.makedirs(tools, exist_ok=True)
    lock = os.path.join(BROWSER_DIR, "package-lock.json")
    installed = os.path.join(tools, "package-lock.json")
    fresh = (os.path.exists(installed) and open(installed).read() == open(lock).read()
             and os.path.isdir(os.path.join(tools, "node_modules", "playwright-core")))
    if not fresh:
        for name in ("package.json", "package-lock.json"):
            shutil.copy(os.path.join(BROWSER_DIR, name), tools)
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=tools,
                       check=True, timeout=300)
    return tools


def shots_dir():
    root = os.environ.get("SCEPTER_ARTIFACTS")
    if root:
        d = os.path.join(root, "console")
        os.makedirs(d, exist_ok=True)
        return d
    return tempfile.mkdtemp(prefix="scepter-console-shots-")


def fetch(port, ca_pem, path, method="GET", headers=None):
    ctx = ssl.create_default_context(cafile=ca_pem)
    req = urllib.request.Request(f"https://127.0.0.1:{port}{path}", method=method,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


class Browser:
    """console.mjs as a child process: its STEP lines read one by one, lines sent to it."""

    def __init__(self, tools, url, shots):
        self.p = subprocess.Popen(
            ["node", os.path.join(os.path.abspath(BROWSER_DIR), "console.mjs"), url, shots,
             ADMIN_PASSWORD], cwd=tools, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, env={**os.environ, "CHROMIUM": CHROMIUM})
        self.seen = []

    def step(self, name):
        """The data of the next STEP line, which must be `name`."""
        while True:
            line = self.p.stdout.readline()
            if not line:
                self.p.wait(timeout=10)
                pytest.fail(f"the browser script ended before {name}:\n" + "".join(self.seen))
            self.seen.append(line)
            m = re.match(r"STEP (\S+) ?(.*)$", line.rstrip("\n"))
            if m:
                assert m.group(1) == name, "".join(self.seen)
                return json.loads(m.group(2)) if m.group(2) else None

    def send(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()


def test_console_in_chromium(daemon, workdir):
    tools = browser_tools()
    s = ScepServer(daemon, workdir).listen()
    s.create_ca()
    daemon.sh("configure terminal", "ip http secure-port 0", "ip http secure-server",
              f"username admin privilege 15 secret 0 {ADMIN_PASSWORD}",
              "aaa local authentication attempts max-fail 3", "end")
    port = wait_for(lambda: secure_port(daemon), timeout=30, what="HTTPS listener")
    ca_pem = s.ca_pem()

    # What the listener answers for the console, checked against the CA.
    status, headers, body = fetch(port, ca_pem, "/")
    assert status == 200 and b"<script" in body, body
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["cache-control"] == "no-cache"
    assert headers["content-security-policy"].startswith("default-src 'self'")
    assert headers["x-content-type-options"] == "nosniff"
    script = re.search(rb'src="(/main-[A-Z0-9]+\.js)"', body).group(1).decode()
    status, js_headers, _ = fetch(port, ca_pem, script)
    assert status == 200 and js_headers["cache-control"].endswith("immutable")
    assert fetch(port, ca_pem, "/", headers={"If-None-Match": headers["etag"]})[0] == 304
    assert fetch(port, ca_pem, "/nothing-here.js")[0] == 404
    status, head_headers, head_body = fetch(port, ca_pem, "/", method="HEAD")
    assert status == 200 and head_body == b"" and head_headers["etag"] == headers["etag"]
    assert fetch(port, ca_pem, "/", method="POST")[0] == 405

    shots = shots_dir()
    print(f"console screenshots in {shots}")
    b = Browser(tools, f"https://127.0.0.1:{port}/", shots)
    client = None
    try:
        assert b.step("unlabelled-login") == []
        b.step("pending-open")
        client = StrongSwan(workdir, "sw1", s.url, ca_pem, 0).start(poll=60)
        b.send("go")
        row = b.step("granted")
        assert "cn=sw1" in row.lower(), row
        rc, out = client.finish()
        assert rc == 0, out
        text = subprocess.run(["openssl", "verify", "-CAfile", ca_pem, client.cert],
                              capture_output=True, text=True)
        assert text.returncode == 0, text.stdout + text.stderr
        raw_serial = subprocess.run(["openssl", "x509", "-in", client.cert, "-noout", "-serial"],
                                    check=True, capture_output=True,
                                    text=True).stdout.strip().split("=")[1]
        b.send(raw_serial.lstrip("0"))
        b.p.stdin.close()
        assert b.step("unlabelled-search") == []
        assert b.step("unlabelled-revoke") == []
        revoked = b.step("revoked")
        assert revoked["pem"].strip() == open(client.cert).read().strip()

        crl = b.step("crl")
        assert crl["href"] == f"/api/v1/servers/{LABEL}/crl"
        assert crl["status"] == 200 and crl["type"] == "application/pkix-crl", crl
        path = os.path.join(workdir, "console.crl")
        with open(path, "wb") as f:
            f.write(base64.b64decode(crl["b64"]))
        listed = subprocess.run(["openssl", "crl", "-inform", "DER", "-in", path, "-noout",
                                 "-text"], check=True, capture_output=True, text=True).stdout
        assert f"Serial Number: {raw_serial}" in listed and "Key Compromise" in listed, listed

        phone = b.step("phone")
        assert phone["width"] <= 390 and phone["nav_visible"], phone
        assert b.step("logged-out") == 401
        messages = b.step("lockout")
        assert "locked" in messages[-1], messages
        b.step("console")
        assert b.step("errors") == []
        b.step("done")
        assert b.p.wait(timeout=20) == 0
    finally:
        if client and client._proc.poll() is None:
            client._proc.kill()
        if b.p.poll() is None:
            b.p.kill()
        print("".join(b.seen))
    assert re.search(r"^admin\s+3\s", daemon.sh("show aaa local user lockout"), re.M)
