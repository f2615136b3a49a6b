"""Helpers for the SCEP end-to-end tests: scepterd's HTTP listener on a loopback port it
picks itself (`ip http port 0`, read back from `show ip http server status`), plain HTTP
requests, the real SCEP clients (micromdm `scepclient`, strongSwan
`pki --scep`/`--scepca`), an HTTP relay that edits GetCACaps on the way, and checks of
what comes back."""

import atexit
import http.client
import http.server
import os
import re
import select
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request

from conftest import LABEL, openssl, wait_for

SCEP_PATH = "/cgi-bin/pkiclient.exe"


_STATUS_PORT = re.compile(r"^HTTP server port: (\d+)$", re.M)


def http_listening_port(daemon):
    """The port scepterd's HTTP listener has bound, from `show ip http server status`;
    None while it does not serve the current `ip http` settings (the line then says "not
    listening") or the server is disabled."""
    out = daemon.sh("show ip http server status")
    m = _STATUS_PORT.search(out)
    return int(m.group(1)) if m and "HTTP server status: Enabled" in out else None


def wait_listening(daemon, port=0, timeout=30):
    """Waits until scepterd listens for its current `ip http` settings (on `port`, when
    not 0); returns the port bound."""
    def bound():
        p = http_listening_port(daemon)
        return p if p and port in (0, p) else None
    return wait_for(bound, timeout=timeout, interval=0.05,
                    what=f"HTTP listener{f' on port {port}' if port else ''}")


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def connection_refused(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False


def wait_timer_ticks(daemon, n):
    """Waits until scepterd's timer loop has run `n` full passes from now on. Each pass
    runs the certificate servers' timers, then brings the HTTP listener in line with the
    `ip http` settings; so each change of the bind address shows in `show ip http server
    status` only after a pass, and the pass after that one starts with a full timer run.
    Leaves the HTTP server on, on 127.0.0.1 and a free port."""
    for i in range(n + 1):
        address = "127.0.0.1" if (n - i) % 2 == 0 else "127.0.0.2"
        daemon.sh("configure terminal", "ip http server", "ip http port 0",
                  f"ip http bind-address {address}", "end")
        wait_listening(daemon)


class ScepServer:
    """A Daemon with one certificate server and its HTTP listener on 127.0.0.1."""

    def __init__(self, daemon, workdir):
        self.d = daemon
        self.workdir = workdir
        self.port = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}{SCEP_PATH}"

    def listen(self, port=0):
        """`ip http server` on `port` (0, the default: any free port, which scepterd picks
        when it binds), bound to 127.0.0.1; waits until `show ip http server status`
        shows the listener, and takes the port from there."""
        self.d.sh("configure terminal", "ip http server", f"ip http port {port}",
                  "ip http bind-address 127.0.0.1", "end")
        self.port = wait_listening(self.d, port)
        return self

    def create_ca(self, *lines):
        self.d.create_ca(*lines)
        return self

    def ca_pem(self):
        return self.d.ca_pem_file()

    def requests(self):
        return self.d.requests()

    def wait_for_request(self, state, count=1):
        """Waits until `count` requests are in `state`; returns their rows."""
        def rows():
            found = [r for r in self.d.requests() if r["state"] == state]
            return found if len(found) >= count else None
        return wait_for(rows, what=f"{count} request(s) {state}")

    def password(self, minutes=None):
        """`password generate [minutes]`: the new one-time password."""
        cmd = f"crypto pki server {LABEL} password generate" + (f" {minutes}" if minutes else "")
        out = self.d.sh(cmd)
        m = re.search(r"% New one-time enrollment password: (\S+)", out)
        assert m, out
        return m.group(1)

    def exec(self, what):
        """`crypto pki server LABEL <what>` (grant ID, reject ID, remove ID, revoke N...)."""
        return self.d.sh(f"crypto pki server {LABEL} {what}")

    def get(self, query, path=SCEP_PATH, method="GET", body=None, headers=None):
        return http_request(self.port, method, f"{path}?{query}" if query else path, body,
                            headers)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-case names
        self.body = body

    def header(self, name):
        return self.headers.get(name.lower())


def http_request(port, method, target, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        conn.request(method, target, body=body, headers=headers or {})
        r = conn.getresponse()
        return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    finally:
        conn.close()


# --- keys ---

_KEY_DIR = None
_KEYS = {}


def rsa_key(dest, index):
    """Copies RSA-2048 key number `index` of this test session to `dest`. Each daemon
    starts with an empty database, so tests may share keys; within one test, distinct
    clients need distinct indexes (the transactionID follows the key). PKCS#1 PEM
    ("RSA PRIVATE KEY"): micromdm's scepclient reads nothing else."""
    global _KEY_DIR
    if index not in _KEYS:
        if _KEY_DIR is None:
            _KEY_DIR = tempfile.mkdtemp(prefix="scepter-it-rsa-")
            atexit.register(shutil.rmtree, _KEY_DIR, ignore_errors=True)
        path = os.path.join(_KEY_DIR, f"rsa{index}.pem")
        subprocess.run(["openssl", "genrsa", "-traditional", "-out", path, "2048"], check=True,
                       capture_output=True)
        _KEYS[index] = path
    os.makedirs(os.path.dirname(dest) or ".", exist_ok=True)
    shutil.copy(_KEYS[index], dest)
    return dest


# --- checks ---

def verify(ca_pem, cert_path, at=None):
    """`openssl verify -CAfile`: the certificate chains to the CA (and is valid now, or
    at the datetime `at`: the server's clock after `clock set`)."""
    when = ["-attime", str(int(at.timestamp()))] if at else []
    rc, out = openssl("verify", *when, "-CAfile", ca_pem, cert_path)
    assert rc == 0 and f"{cert_path}: OK" in out, out


def cert_field(path, *flags):
    rc, out = openssl("x509", "-noout", "-in", path, *flags)
    assert rc == 0, out
    return out.strip()


def cert_serial_of(path):
    return int(cert_field(path, "-serial").split("=")[1], 16)


def public_key_of(path, private=False):
    args = ["pkey", "-in", path, "-pubout"] if private else ["x509", "-in", path, "-noout",
                                                             "-pubkey"]
    rc, out = openssl(*args)
    assert rc == 0, out
    return out


# --- micromdm scepclient ---

class Micromdm:
    """micromdm's `scepclient` in its own directory: it keeps key.pem, csr.pem,
    self.pem (the throw-away signer) and client.pem (the certificate) there. With an
    existing client.pem it sends a RenewalReq signed by that certificate."""

    def __init__(self, root, name, url, key_index, cn=None):
        self.dir = os.path.join(root, name)
        os.makedirs(self.dir, exist_ok=True)
        self.key = rsa_key(os.path.join(self.dir, "key.pem"), key_index)
        self.cert = os.path.join(self.dir, "client.pem")
        self.csr = os.path.join(self.dir, "csr.pem")
        self.url = url
        self.cn = cn or name

    def args(self, challenge=None):
        a = ["scepclient", "-server-url", self.url, "-private-key", self.key,
             "-certificate", self.cert, "-cn", self.cn, "-organization", "Example",
             "-ou", "Lab", "-debug"]
        return a + (["-challenge", challenge] if challenge else [])

    def run(self, challenge=None, timeout=30):
        """Runs to completion; (exit status, output)."""
        p = subprocess.run(self.args(challenge), capture_output=True, text=True,
                           timeout=timeout)
        return p.returncode, p.stdout + p.stderr

    def run_until_pending(self, challenge=None, timeout=20):
        """Runs until the client reports PENDING (it would then sleep 30 s and send the
        same PKCSReq again), and stops it there. Returns the output."""
        p = subprocess.Popen(self.args(challenge), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        out = b""
        deadline = time.time() + timeout
        try:
            while b"pkiStatus=PENDING" not in out:
                left = deadline - time.time()
                assert left > 0, f"scepclient never reported PENDING:\n{out.decode()}"
                ready, _, _ = select.select([p.stdout], [], [], left)
                chunk = os.read(p.stdout.fileno(), 4096) if ready else b""
                if ready and not chunk:
                    raise AssertionError(f"scepclient exited rc={p.wait()}:\n{out.decode()}")
                out += chunk
        finally:
            p.kill()
            p.wait()
            p.stdout.close()
        return out.decode()

    def csr_der(self):
        rc, out = openssl("req", "-in", self.csr, "-outform", "DER", "-out", self.csr + ".der")
        assert rc == 0, out
        with open(self.csr + ".der", "rb") as f:
            return f.read()


# --- strongSwan pki ---

def _pki_output(text):
    """pki's output without the TPM plugin's complaints (no TPM here)."""
    return "\n".join(l for l in text.splitlines()
                     if "libtss2" not in l and "plugin 'tpm'" not in l)


def pki_scepca(url, caout):
    """`pki --scepca`: fetches the CA certificate into `caout` (PEM)."""
    p = subprocess.run(["pki", "--scepca", "--url", url, "--caout", caout, "--outform", "pem",
                        "--force"], capture_output=True, text=True, timeout=30)
    return p.returncode, _pki_output(p.stdout + p.stderr)


class StrongSwan:
    """strongSwan `pki --scep` for one key (`key_index`), writing the certificate to
    <root>/<name>.pem."""

    def __init__(self, root, name, url, ca_pem, key_index, dn=None):
        self.url = url
        self.ca_pem = ca_pem
        self.key = rsa_key(os.path.join(root, name + ".key"), key_index)
        self.cert = os.path.join(root, name + ".pem")
        self.dn = dn or f"C=US, O=Example, CN={name}"

    def args(self, cipher="aes", digest="sha256", password=None, old=None, poll=None):
        a = ["pki", "--scep", "--url", self.url, "--in", self.key, "--dn", self.dn,
             "--cacert-enc", self.ca_pem, "--cacert-sig", self.ca_pem, "--cipher", cipher,
             "--digest", digest, "--outform", "pem"]
        if password:
            a += ["--password", password]
        if old:
            a += ["--cert", old.cert, "--key", old.key]
        if poll:
            a += ["--interval", "1", "--maxpolltime", str(poll)]
        return a

    def run(self, timeout=60, **kw):
        """Runs to completion; (exit status, output). The certificate goes to self.cert."""
        with open(self.cert, "wb") as out:
            p = subprocess.run(self.args(**kw), stdout=out, stderr=subprocess.PIPE,
                               timeout=timeout)
        return p.returncode, _pki_output(p.stderr.decode(errors="replace"))

    def start(self, **kw):
        """Starts in the background (give poll=SECONDS); finish() waits for it."""
        self._out = open(self.cert, "wb")
        self._proc = subprocess.Popen(self.args(**kw), stdout=self._out, stderr=subprocess.PIPE)
        return self

    def finish(self, timeout=60):
        try:
            _, err = self._proc.communicate(timeout=timeout)
        finally:
            if self._proc.poll() is None:
                self._proc.kill()
                self._proc.wait()
            self._out.close()
        return self._proc.returncode, _pki_output(err.decode(errors="replace"))


# --- an HTTP relay in front of scepterd ---

class CapsRelay:
    """Forwards every request to a SCEP server on 127.0.0.1 unchanged, except that
    GetCACaps answers lose the keywords in `drop` (e.g. POSTPKIOperation, which makes
    clients use GET for PKIOperation), and that with `path` every request goes to that
    path, query and body kept (micromdm's scepserver answers at /scep alone, where
    scepterd, as IOS, asks at <enrollment url path>/pkiclient.exe). Records (method,
    path, body) of each request it forwards. A context manager, or start() and close()."""

    def __init__(self, upstream_port, drop=(), path=None):
        relay = self
        self.seen = []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                relay.seen.append((self.command, self.path, body))
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() in ("content-type",)}
                target = self.path if path is None else f"{path}?{self.path.partition('?')[2]}"
                r = http_request(upstream_port, self.command, target, body, headers)
                payload = r.body
                if "operation=GetCACaps" in self.path:
                    lines = [l for l in payload.decode().splitlines() if l not in drop]
                    payload = ("\n".join(lines) + "\n").encode()
                self.send_response(r.status)
                if r.header("content-type"):
                    self.send_header("Content-Type", r.header("content-type"))
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = _forward
            do_POST = _forward

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}{SCEP_PATH}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    def message_types(self):
        """The SCEP messageType of each PKIOperation POSTed through the relay ("19"
        PKCSReq, "17" RenewalReq, "20" CertPoll, ...), read with `openssl cms`."""
        out = []
        for method, _, body in self.seen:
            if method != "POST":
                continue
            p = subprocess.run(["openssl", "cms", "-cmsout", "-print", "-inform", "DER"],
                               input=body, capture_output=True)
            m = re.search(rb"113733\.1\.9\.2\)\s+set:\s+PRINTABLESTRING:(\d+)", p.stdout)
            out.append(m.group(1).decode() if m else None)
        return out

    def operations(self):
        """(method, operation) of each request seen."""
        out = []
        for method, path, _ in self.seen:
            m = re.search(r"operation=([A-Za-z]+)", path)
            out.append((method, m.group(1) if m else None))
        return out


def fetch(url, timeout=15):
    """urllib GET: (status, content type, body)."""
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.headers.get("Content-Type"), r.read()


# --- bench/scep_attack: malicious SCEP requests ---

def scep_attack_path():
    """bench/scep_attack in the build directory of the binaries under test."""
    from conftest import BIN_DIR
    return os.path.join(BIN_DIR, "bench/scep_attack")


_ATTACK_KEYS = None


def attack_keys_file():
    """A PEM file of RSA-2048 keys that every scep_attack run of this test session reads
    (and extends), so that each key is generated once."""
    global _ATTACK_KEYS
    if _ATTACK_KEYS is None:
        d = tempfile.mkdtemp(prefix="scepter-it-attack-keys-")
        atexit.register(shutil.rmtree, d, ignore_errors=True)
        _ATTACK_KEYS = os.path.join(d, "keys.pem")
    return _ATTACK_KEYS


_ATTACK_FIELD = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)')


def _attack_fields(text):
    out = {}
    for name, value in _ATTACK_FIELD.findall(text):
        if value.startswith('"'):
            value = re.sub(r'\\(.)', r'\1', value[1:-1])
        out[name] = value
    return out


class AttackRun:
    """What scep_attack printed: `replies`, one dict per request (kind, role, http,
    pkiStatus, failInfo, failInfoText, tid, serial, cert...), and `result`, the RESULT
    line's fields."""

    def __init__(self, output):
        self.output = output
        self.replies = [_attack_fields(l.split(":", 1)[1]) for l in output.splitlines()
                        if re.match(r"^request \d+: ", l)]
        results = [l for l in output.splitlines() if l.startswith("RESULT ")]
        assert results, output
        self.result = _attack_fields(results[-1])

    def attacks(self):
        return [r for r in self.replies if r["role"] in ("attack", "replay")]


def run_scep_attack(scep, kind, *args, count=1, out_dir=None, key_index=0, timeout=120):
    """Runs bench/scep_attack against `scep` (a ScepServer): `count` requests of `kind`,
    with the extra command-line `args`. Asserts that it ran; returns an AttackRun."""
    cmd = [scep_attack_path(), "--url", scep.url, "--ca", scep.ca_pem(), "--kind", kind,
           "--count", str(count), "--keys", attack_keys_file(), "--key-index", str(key_index),
           *args]
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
        cmd += ["--out", out_dir]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    output = p.stdout + p.stderr
    assert p.returncode == 0, f"scep_attack {kind} rc={p.returncode}:\n{output}"
    return AttackRun(output)


def database_counts(daemon, label=LABEL):
    """(requests, certificates) rows in the certificate server's SQLite database
    (nvram:LABEL.ser), read-only, next to the running server."""
    import sqlite3
    db = sqlite3.connect(f"file:{daemon.path(label + '.ser')}?mode=ro", uri=True, timeout=10)
    try:
        requests = db.execute("SELECT COUNT(*) FROM requests").fetchone()[0]
        certificates = db.execute("SELECT COUNT(*) FROM certificates").fetchone()[0]
        return requests, certificates
    finally:
        db.close()
