"""Several certificate servers in one scepterd, each on a PostgreSQL database of its own:
each is reached through its own SCEP (`message=LABEL`, the envelope's recipient), EST
(`/.well-known/est/LABEL/`) and OCSP (the issuer in the request) endpoints and answers
with its own certificate; and one whose database stops answering does not hold up the
other.

The failure is the nastiest a database can show: beta's database is reached through a
TCP proxy (FreezableProxy) that, frozen, keeps every connection open and forwards nothing,
so that the database seems alive but never answers. While beta's clients wait, alpha
takes real enrolments (strongSwan `pki --scep`, EST), GetCACert and OCSP, `/metrics` is
scraped and the shell shows alpha; then beta's clients get a clean answer (a certificate,
503 or OCSP tryLater, never a dropped connection), and once thawed beta serves again with
nothing lost or mixed up."""

import base64
import concurrent.futures
import hashlib
import os
import re
import select
import socket
import subprocess
import threading
import time
import uuid

import pytest

from conftest import BIN_DIR, POSTGRES_ADMIN_URL, make_csr, openssl, psql, wait_for, write
from scep_helpers import SCEP_PATH, ScepServer, StrongSwan, http_request, verify

A, B = "alpha", "beta"
EST_SECRET = "Est-Secret-42"
# What an answer of alpha may take while beta hangs: generous for a noisy 2-core machine
# (a healthy answer takes milliseconds; a held one would take beta's storage timeout).
A_BOUND = 5.0
# How long beta's clients may wait for their answer: the storage timeout (10 s) of the
# calls they are stuck in, plus the wait for a connection, plus margin.
B_BOUND = 45.0


class FreezableProxy:
    """A TCP proxy on 127.0.0.1 to `upstream_port`. freeze(): it stops reading and
    forwarding in both directions but keeps every connection open (and accepts new ones),
    as a database that hangs; thaw(): it forwards again, what waited included."""

    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.port = self.listener.getsockname()[1]
        self.running = threading.Event()  # set: forwarding
        self.running.set()
        self.closed = False
        self.sockets = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def freeze(self):
        self.running.clear()

    def thaw(self):
        self.running.set()

    def close(self):
        self.closed = True
        self.running.set()
        self.listener.close()
        with self.lock:
            for s in self.sockets:
                s.close()

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:
                return
            with self.lock:
                self.sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a, b):
        peer = {a: b, b: a}
        try:
            while not self.closed:
                self.running.wait()
                ready, _, _ = select.select([a, b], [], [], 0.05)
                for s in ready:
                    if not self.running.is_set():
                        break
                    data = s.recv(65536)
                    if not data:
                        return
                    peer[s].sendall(data)
        except OSError:
            pass
        finally:
            a.close()
            b.close()


@pytest.fixture
def databases():
    """Two fresh databases on the tests' PostgreSQL server: their URLs."""
    if not POSTGRES_ADMIN_URL:
        pytest.skip("set SCEPTER_TEST_POSTGRES to a PostgreSQL URL (bootstrap.sh does)")
    head = POSTGRES_ADMIN_URL.partition("?")[0]
    names = ["scepter_it_" + uuid.uuid4().hex[:12] for _ in range(2)]
    for name in names:
        psql(POSTGRES_ADMIN_URL, f"CREATE DATABASE {name}")
    yield [re.sub(r"/[^/]*$", "/" + name, head) for name in names]
    for name in names:
        psql(POSTGRES_ADMIN_URL, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def via(url, port):
    """`url` with its host:port replaced by 127.0.0.1:port."""
    return re.sub(r"@[^/@]+/", f"@127.0.0.1:{port}/", url, count=1)


def upstream_port(url):
    m = re.search(r"@[^/:@]+:(\d+)/", url)
    return int(m.group(1)) if m else 5432


@pytest.fixture
def two_cas(daemon, workdir, databases):
    """scepterd with alpha (its database direct) and beta (its database through a
    FreezableProxy), both `grant auto`, EST and OCSP, on 127.0.0.1."""
    url_a, url_b = databases
    proxy = FreezableProxy(upstream_port(url_b))
    scep = ScepServer(daemon, workdir).listen()
    daemon.sh("configure terminal", "ip http secure-port 0", "ip http secure-server", "end")
    for label, url in ((A, url_a), (B, via(url_b, proxy.port))):
        daemon.create_ca("grant auto", "est", f"est user {label}-client secret {EST_SECRET}",
                         "ocsp", f"ocsp url http://127.0.0.1:{scep.port}/ocsp",
                         f"database url ser {url}", label=label)
    scep.https = wait_for(lambda: secure_port(daemon), timeout=30, what="HTTPS listener")
    scep.databases = {A: url_a, B: url_b}
    scep.proxy = proxy
    try:
        yield scep
    finally:
        proxy.thaw()
        proxy.close()


def secure_port(daemon):
    m = re.search(r"HTTP secure server port: (\d+)\n", daemon.sh("show ip http server status"))
    return int(m.group(1)) if m else None


def pem_of(der):
    rc, out = openssl("x509", "-inform", "DER", input=der)
    assert rc == 0, out
    return out


def ca_pem(s, label):
    return s.d.ca_pem_file(label)


def timed(fn, *args, **kw):
    start = time.monotonic()
    out = fn(*args, **kw)
    return out, time.monotonic() - start


# --- the clients ---

def get_ca_cert(s, label):
    r = http_request(s.port, "GET", f"{SCEP_PATH}?operation=GetCACert&message={label}")
    assert r.status == 200, (r.status, r.body)
    return r.body


def curl(*args, timeout=60):
    r = subprocess.run(["curl", "-s", "-S", "-k", "-w", "\n%{http_code}", *args],
                       capture_output=True, text=True, timeout=timeout)
    body, _, status = r.stdout.rpartition("\n")
    return int(status or 0), body


def est_cacerts(s, label):
    status, body = curl(f"https://127.0.0.1:{s.https}/.well-known/est/{label}/cacerts")
    assert status == 200, (status, body)
    p7 = os.path.join(s.workdir, f"{label}-cacerts.p7")
    with open(p7, "wb") as f:
        f.write(base64.b64decode(body))
    rc, out = openssl("pkcs7", "-inform", "DER", "-in", p7, "-print_certs")
    assert rc == 0, out
    return re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n", out, re.S)


def est_enroll(s, label, name, timeout=60):
    """EST simpleenroll of a new P-256 key for CN=name: (HTTP status, certificate path or
    the answer's body)."""
    make_csr(s.workdir, name, f"/CN={name}", key="ec:prime256v1")
    der = subprocess.run(["openssl", "req", "-in", os.path.join(s.workdir, name + ".csr"),
                          "-outform", "DER"], check=True, capture_output=True).stdout
    body = write(os.path.join(s.workdir, name + ".b64"), base64.encodebytes(der).decode())
    status, out = curl("--user", f"{label}-client:{EST_SECRET}", "-H",
                       "Content-Type: application/pkcs10", "--data-binary", f"@{body}",
                       f"https://127.0.0.1:{s.https}/.well-known/est/{label}/simpleenroll",
                       timeout=timeout)
    if status != 200:
        return status, out
    p7 = os.path.join(s.workdir, name + ".p7")
    with open(p7, "wb") as f:
        f.write(base64.b64decode(out))
    cert = os.path.join(s.workdir, name + ".pem")
    rc, text = openssl("pkcs7", "-inform", "DER", "-in", p7, "-print_certs", "-out", cert)
    assert rc == 0, text
    return status, cert


def swan_enroll(s, label, name, key_index, check=True):
    swan = StrongSwan(s.workdir, name, s.url, ca_pem(s, label), key_index,
                      dn=f"C=US, O=Example, CN={name}")
    rc, out = swan.run(timeout=60)
    assert rc == 0 or not check, out
    return swan.cert


def ocsp_ask(s, label, *what, timeout=60):
    """`openssl ocsp` (with a nonce: signed for this request) about `what` (-cert PATH or
    -serial N) of `label`, trusting that CA: its output."""
    p = subprocess.run(["openssl", "ocsp", "-issuer", ca_pem(s, label), *what, "-url",
                        f"http://127.0.0.1:{s.port}/ocsp", "-CAfile", ca_pem(s, label),
                        "-timeout", str(int(timeout))],
                       capture_output=True, text=True, timeout=timeout + 5)
    return p.stdout + p.stderr


def scep_load(s, label, n, tag, save_dir, retry=False, timeout=120):
    args = [os.path.join(BIN_DIR, "bench/scep_load"), "--port", str(s.port), "--label", label,
            "--mode", "enroll", "--n", str(n), "--c", str(n), "--tag", tag, "--threads", "2",
            "--keys", os.path.join(s.workdir, "load-keys.pem"), "--save-dir", save_dir]
    if retry:
        args += ["--retry", "--retry-seconds", "60"]
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, p.stdout + p.stderr
    m = re.search(r"^RESULT (.*)$", p.stdout, re.M)
    assert m, p.stdout
    return dict(kv.split("=", 1) for kv in m.group(1).split()), p.stdout


def fingerprints_in(url):
    return set(psql(url, "SELECT encode(sha256(der), 'hex') FROM certificates").split())


def fingerprint(path):
    p = subprocess.run(["openssl", "x509", "-in", path, "-outform", "DER"], capture_output=True,
                       check=True)
    return hashlib.sha256(p.stdout).hexdigest()


def saved_fingerprints(save_dir):
    """The certificates scep_load --save-dir wrote (DER files)."""
    out = set()
    for name in os.listdir(save_dir):
        if name.endswith(".der"):
            with open(os.path.join(save_dir, name), "rb") as f:
                out.add(hashlib.sha256(f.read()).hexdigest())
    return out


def scrape(s):
    r = http_request(s.port, "GET", "/metrics")
    assert r.status == 200, r.status
    return r.body.decode()


# --- the test ---

def test_each_ca_answers_for_itself_and_a_hung_database_holds_up_only_its_ca(two_cas):
    s = two_cas
    d = s.d
    pems = {label: pem_of(d.ca_der(label)) for label in (A, B)}
    assert pems[A] != pems[B]

    # Each CA by its own endpoints, with its own certificate.
    issued = {A: [], B: []}  # certificate paths, by the CA that issued them
    for i, label in enumerate((A, B)):
        assert get_ca_cert(s, label) == d.ca_der(label)
        assert est_cacerts(s, label) == [pems[label]]
        cert = swan_enroll(s, label, f"swan-{label}", key_index=i + 1)
        verify(ca_pem(s, label), cert)
        issued[label].append(cert)
        status, est_cert = est_enroll(s, label, f"est-{label}")
        assert status == 200, est_cert
        verify(ca_pem(s, label), est_cert)
        issued[label].append(est_cert)
        out = ocsp_ask(s, label, "-cert", cert)
        assert "Response verify OK" in out and f"{cert}: good" in out, out
    other = ocsp_ask(s, A, "-cert", issued[B][0])
    assert ": good" not in other, other  # alpha does not answer for beta's certificates

    # Beta under load while healthy. The load while it hangs reuses these 16 keys (with
    # other transactions): no key is made then, on the CPU alpha needs.
    b_dir = os.path.join(s.workdir, "beta-load")
    os.makedirs(b_dir)
    result, out = scep_load(s, B, 16, "warm", b_dir)
    assert result["success"] == "16", out

    # Alpha's latency while beta is healthy.
    before = {}
    _, before["enrol"] = timed(swan_enroll, s, A, "swan-a-before", 10)
    _, before["getcacert"] = timed(get_ca_cert, s, A)
    _, before["ocsp"] = timed(ocsp_ask, s, A, "-serial", "0x5001")
    print(f"alpha before the freeze: {before}")

    # Beta's database hangs. Its clients come: 16 enrolments at once over SCEP, 3 over
    # EST, 3 OCSP questions about serials it has not been asked about (a database read).
    s.proxy.freeze()
    frozen_at = time.monotonic()
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=8)
    b_frozen_dir = os.path.join(s.workdir, "beta-frozen")
    os.makedirs(b_frozen_dir)
    b_scep = pool.submit(timed, scep_load, s, B, 16, "frozen", b_frozen_dir, timeout=B_BOUND + 60)
    b_est = [pool.submit(timed, est_enroll, s, B, f"est-b-frozen{i}", timeout=B_BOUND + 30)
             for i in range(3)]
    b_ocsp = [pool.submit(timed, ocsp_ask, s, B, "-serial", hex(0x7000 + i), timeout=B_BOUND)
              for i in range(3)]
    time.sleep(1.5)  # they are in, and stuck

    # Alpha goes on answering, within the bound, meanwhile.
    during = {}
    for i in range(3):
        cert, took = timed(swan_enroll, s, A, f"swan-a-frozen{i}", 11 + i, check=False)
        during[f"enrol{i}"] = took
        assert os.path.getsize(cert) > 0, f"alpha refused an enrolment after {took:.1f} s"
        verify(ca_pem(s, A), cert)
        issued[A].append(cert)
    (status, cert), during["est"] = timed(est_enroll, s, A, "est-a-frozen")
    assert status == 200, cert
    issued[A].append(cert)
    body, during["getcacert"] = timed(get_ca_cert, s, A)
    assert body == d.ca_der(A)
    out, during["ocsp"] = timed(ocsp_ask, s, A, "-cert", issued[A][-1])
    assert f"{issued[A][-1]}: good" in out, out
    out, during["ocsp_new_serial"] = timed(ocsp_ask, s, A, "-serial", "0x6001")
    assert "Response verify OK" in out and ": unknown" in out, out
    text, during["metrics"] = timed(scrape, s)
    assert f'scepter_ca_state{{ca="{A}",state="enabled"}} 1' in text, text[:2000]
    show, during["show"] = timed(d.show_server, A)
    assert "Status: enabled" in show, show
    print(f"alpha while beta's database hangs: {during}")
    slow = {k: v for k, v in during.items() if v > A_BOUND}
    assert not slow, f"alpha was held up by beta: {slow} (before the freeze: {before})"
    assert time.monotonic() - frozen_at < 30, "the checks of alpha took too long"

    # Beta's clients get an answer, none is dropped: a certificate, 503, OCSP tryLater.
    (result, out), took = b_scep.result(timeout=B_BOUND + 60)
    print(f"beta's frozen SCEP load ({took:.1f} s): {result}")
    answered = int(result["success"]) + int(result["http_errors"]) + int(result["failure"])
    assert answered == 16 and result.get("bad_replies", "0") == "0", out
    assert "no HTTP answer" not in out, out
    for f in b_est:
        (status, body), took = f.result(timeout=B_BOUND + 30)
        assert status in (200, 503), (status, body)
        assert took < B_BOUND, took
    for f in b_ocsp:
        out, took = f.result(timeout=B_BOUND)
        assert "tryLater" in out or "trylater" in out.lower() or ": unknown" in out, out
        assert took < B_BOUND, took

    # Thawed, beta serves again: the same messages sent again get their certificates.
    s.proxy.thaw()
    def serves():
        r = http_request(s.port, "GET", f"{SCEP_PATH}?operation=GetCACert&message={B}")
        return r.status == 200 and "Status: enabled" in d.show_server(B)
    wait_for(serves, timeout=30, what="beta enabled again")
    result, out = scep_load(s, B, 16, "frozen", b_frozen_dir, retry=True)
    assert result["success"] == "16", out
    cert = swan_enroll(s, B, "swan-b-after", 20)
    verify(ca_pem(s, B), cert)
    issued[B].append(cert)

    # Nothing lost, nothing mixed up: every certificate a client got is in its CA's
    # database, and in no other.
    in_db = {label: fingerprints_in(s.databases[label]) for label in (A, B)}
    got = {A: {fingerprint(p) for p in issued[A]},
           B: {fingerprint(p) for p in issued[B]} | saved_fingerprints(b_dir) |
           saved_fingerprints(b_frozen_dir)}
    assert len(got[B]) >= 16 + 16 + 2
    for label, other_label in ((A, B), (B, A)):
        assert got[label] <= in_db[label], got[label] - in_db[label]
        assert not got[label] & in_db[other_label]
    pool.shutdown(wait=True)
    assert d.proc.poll() is None, "scepterd stopped"
