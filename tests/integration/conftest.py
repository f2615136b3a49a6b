"""Fixtures for end-to-end tests: a real scepterd in a temporary NVRAM directory,
driven through the real `scepter` shell over its UNIX socket."""

import base64
import datetime
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid

import pytest

BIN_DIR = os.environ.get("SCEPTER_BIN_DIR", os.path.join(os.path.dirname(__file__), "../../build"))
SCEPTERD = os.path.join(BIN_DIR, "src/daemon/scepterd")
SCEPTER = os.path.join(BIN_DIR, "src/shell/scepter")


LABEL = "mycs"
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _check_rc(rc, out, ok, what):
    if ok is True:
        assert rc == 0, f"{what} failed:\n{out}"
    elif ok is False:
        assert rc == 1, f"{what} should have failed:\n{out}"


class Daemon:
    """One scepterd process. start()/stop()/kill() may be called repeatedly on the
    same NVRAM directory to test restarts."""

    def __init__(self, root):
        self.root = root
        self.nvram = os.path.join(root, "nvram")
        self.socket = os.path.join(root, "scepterd.sock")
        self.log_path = os.path.join(root, "scepterd.log")
        self.proc = None
        os.makedirs(self.nvram, exist_ok=True)
        self.env = dict(os.environ, SCEPTER_PASSWORD="integration-master-passphrase")

    def start(self, extra=()):
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen(
            [SCEPTERD, "--nvram", self.nvram, "--socket", self.socket, *extra],
            stdout=log, stderr=subprocess.STDOUT, env=self.env)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("scepterd exited: " + self.log())
            rc, _ = self.run_raw(["-c", "show clock"], check=False)
            if rc == 0:
                return
            time.sleep(0.05)
        raise RuntimeError("scepterd did not start: " + self.log())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=20)
        self.proc = None

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=20)
        self.proc = None

    def restart(self):
        self.stop()
        self.start()

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def run_raw(self, args, check=True, stdin=None, timeout=120):
        p = subprocess.run([SCEPTER, "--socket", self.socket, *args], input=stdin,
                           capture_output=True, text=True, timeout=timeout)
        if check and p.returncode not in (0, 1):
            raise RuntimeError(f"scepter failed rc={p.returncode}: {p.stdout}{p.stderr}")
        return p.returncode, p.stdout + p.stderr

    def sh(self, *lines, ok=True):
        """Runs lines in one shell session (-c each). Asserts the exit status."""
        args = []
        for line in lines:
            args += ["-c", line]
        rc, out = self.run_raw(args)
        _check_rc(rc, out, ok, f"lines {lines}")
        return out

    def path(self, name):
        return os.path.join(self.nvram, name)

    # --- certificate server helpers ---

    def cs(self, *lines, label=LABEL, ok=True):
        """Runs cs-server mode lines for `label` (configure terminal ... end)."""
        return self.sh("configure terminal", f"crypto pki server {label}", *lines, "end", ok=ok)

    def create_ca(self, *lines, label=LABEL, archive_password="cisco1234"):
        """Configures `label` with `lines` and enables it with the first-time dialogue.
        With archive_password set (and no `database archive` line), the password is put
        in the configuration; None answers the Password: prompt with "prompt-pass1"."""
        config = list(lines)
        answers = ["yes"]
        if archive_password and not any(l.startswith("database archive") or
                                        l.startswith("no database archive") for l in lines):
            config.insert(0, f"database archive pkcs12 password {archive_password}")
        elif archive_password is None:
            answers += ["prompt-pass1", "prompt-pass1"]  # Password:, Re-enter password:
        out = self.sh("configure terminal", f"crypto pki server {label}", *config,
                      "no shutdown", *answers, "end")
        assert "% Certificate Server enabled." in out, out
        return out

    def show_server(self, label=LABEL):
        return self.sh(f"show crypto pki server {label}")

    def server_enabled(self, label=LABEL):
        return "Status: enabled" in self.show_server(label)

    def ca_der(self, label=LABEL):
        with open(self.path(f"{label}#1CA.cer"), "rb") as f:
            return f.read()

    def ca_pem_file(self, label=LABEL):
        """Writes the CA certificate as PEM beside nvram and returns its path (atomically)."""
        path = os.path.join(self.root, f"{label}-ca.pem")
        # Written aside and renamed: tests that ask from several threads at once never
        # let a reader see the file empty.
        fd, tmp = tempfile.mkstemp(dir=self.root, suffix=".pem.tmp")
        with os.fdopen(fd, "w") as f:
            f.write(der_to_pem(self.ca_der(label)))
        os.replace(tmp, path)
        return path

    def submit(self, csr_pem, fmt="pem", label=LABEL, via="stdin", ok=True):
        """`crypto pki server LABEL request pkcs10 terminal FMT`, pasting the CSR. via:
        "stdin" (lines on standard input), "lines" (-c per line), "base64" (the bare
        base64 body as -c lines)."""
        command = f"crypto pki server {label} request pkcs10 terminal {fmt}"
        if via == "stdin":
            rc, out = self.run_raw([], stdin=command + "\n" + csr_pem.rstrip("\n") + "\n\n")
            _check_rc(rc, out, ok, command)
            return out
        body = csr_pem.strip().splitlines()
        if via == "base64":
            body = [l for l in body if not l.startswith("-----")]
        return self.sh(command, *body, "", ok=ok)

    def requests(self, label=LABEL):
        """The rows of `info requests`: list of dicts id/state/fingerprint/subject."""
        out = self.sh(f"crypto pki server {label} info requests")
        return parse_requests(out)

    def now(self):
        """The server clock (from `show clock`), as an aware UTC datetime."""
        out = self.sh("show clock").strip()
        m = re.match(r"\*(\d+):(\d+):(\d+)\.\d+ UTC \w+ (\w+) (\d+) (\d+)$", out)
        assert m, out
        hh, mm, ss, mon, day, year = m.groups()
        month = MONTHS.index(mon) + 1
        return datetime.datetime(int(year), month, int(day), int(hh), int(mm), int(ss),
                                 tzinfo=datetime.timezone.utc)

    def set_clock(self, when):
        self.sh("clock set " + clock_words(when))

    def advance_clock(self, delta):
        self.set_clock(self.now() + delta)


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="scepter-it-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def daemon(workdir):
    d = Daemon(workdir)
    d.start()
    yield d
    d.kill()


@pytest.fixture
def reserved_port():
    """A TCP port on 127.0.0.1 kept for this test: a socket with SO_REUSEADDR stays bound
    to it without listening. Nobody else gets the port (bind() without SO_REUSEADDR fails,
    and the kernel hands it out neither for bind(0) nor for outgoing connections), while
    scepterd, which sets SO_REUSEADDR on its listener, may bind and listen on it, also
    across restarts. For tests that need a port fixed in advance, where `ip http port 0`
    does not do (a port change, a daemon restarted on the same port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


def openssl(*args, input=None):
    p = subprocess.run(["openssl", *args], input=input, capture_output=True)
    return p.returncode, p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")


def make_csr(workdir, name, subject, key="rsa:2048", extra=()):
    """Makes a key and a CSR with `openssl req`. key: "rsa:BITS", "ec:CURVE", or
    "shared" (one RSA-2048 key reused by the whole test session, to save time)."""
    key_path = os.path.join(workdir, name + ".key")
    csr_path = os.path.join(workdir, name + ".csr")
    if key == "shared":
        shutil.copy(shared_rsa_key(), key_path)
        args = ["-key", key_path]
    elif key.startswith("ec:"):
        subprocess.run(["openssl", "ecparam", "-name", key[3:], "-genkey", "-noout",
                        "-out", key_path], check=True, capture_output=True)
        args = ["-key", key_path]
    else:
        args = ["-newkey", key, "-nodes", "-keyout", key_path]
    subprocess.run(["openssl", "req", "-new", *args, "-subj", subject, "-out", csr_path,
                    *extra], check=True, capture_output=True)
    with open(csr_path) as f:
        return f.read()


def make_otp_csr(workdir, name, cn, password):
    """A CSR whose challengePassword attribute carries `password`."""
    cnf = write(os.path.join(workdir, name + ".cnf"),
                "[req]\ndistinguished_name = dn\nattributes = attrs\nprompt = no\n"
                f"[dn]\nCN = {cn}\n[attrs]\nchallengePassword = {password}\n")
    key = os.path.join(workdir, name + ".key")
    subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out",
                    key], check=True, capture_output=True)
    csr = os.path.join(workdir, name + ".csr")
    subprocess.run(["openssl", "req", "-new", "-key", key, "-config", cnf, "-out", csr],
                   check=True, capture_output=True)
    return open(csr).read()


_SHARED_KEY = None


def shared_rsa_key():
    global _SHARED_KEY
    if _SHARED_KEY is None:
        d = tempfile.mkdtemp(prefix="scepter-it-key-")
        _SHARED_KEY = os.path.join(d, "shared.key")
        subprocess.run(["openssl", "genrsa", "-out", _SHARED_KEY, "2048"], check=True,
                       capture_output=True)
    return _SHARED_KEY


def der_to_pem(der, kind="CERTIFICATE"):
    b64 = base64.b64encode(der).decode()
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return f"-----BEGIN {kind}-----\n" + "\n".join(lines) + f"\n-----END {kind}-----\n"


def csr_der(csr_pem):
    body = "".join(l for l in csr_pem.splitlines() if not l.startswith("-----"))
    return base64.b64decode(body)


def extract_certificate(out):
    """The certificate a grant printed (PEM or bare base64), as PEM."""
    m = re.search(r"-----BEGIN CERTIFICATE-----\n.*?-----END CERTIFICATE-----\n", out, re.S)
    if m:
        return m.group(0)
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("% Granted certificate"):
            body = []
            for l in lines[i + 1:]:
                if not re.fullmatch(r"[A-Za-z0-9+/=]+", l):
                    break
                body.append(l)
            assert body, out
            return der_to_pem(base64.b64decode("".join(body)))
    raise AssertionError("no certificate in output:\n" + out)


def extract_certificates(out):
    """Every certificate printed (PEM or base64), in order, as PEM."""
    chunks = re.split(r"(?m)^% Granted certificate", out)[1:]
    return [extract_certificate("% Granted certificate" + c) for c in chunks]


def parse_requests(out):
    rows = []
    for line in out.splitlines():
        m = re.match(r"^(\d+)\s+(\w+)\s+([0-9A-F]{32})\s+(.*)$", line)
        if m:
            rows.append({"id": int(m.group(1)), "state": m.group(2),
                         "fingerprint": m.group(3), "subject": m.group(4)})
    return rows


def clock_words(when):
    """`clock set` arguments for a datetime: HH:MM:SS DAY MONTH YEAR."""
    return f"{when:%H:%M:%S} {when.day} {MONTHS[when.month - 1]} {when.year}"


def wait_for(predicate, timeout=15, what="condition", interval=0.2):
    """Polls `predicate` until it returns a truthy value or the deadline passes."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def x509_text(pem_or_path, inform="PEM"):
    """`openssl x509 -text` of a certificate given as PEM text or a path."""
    if os.path.exists(pem_or_path):
        rc, out = openssl("x509", "-noout", "-text", "-inform", inform, "-in", pem_or_path)
    else:
        rc, out = openssl("x509", "-noout", "-text", input=pem_or_path.encode())
    assert rc == 0, out
    return out


def x509_field(pem, *flags):
    rc, out = openssl("x509", "-noout", *flags, input=pem.encode())
    assert rc == 0, out
    return out.strip()


def cert_serial(pem):
    return int(x509_field(pem, "-serial").split("=")[1], 16)


def openssl_date(text):
    return datetime.datetime.strptime(text.strip(), "%b %d %H:%M:%S %Y %Z").replace(
        tzinfo=datetime.timezone.utc)


def cert_validity(pem):
    """(notBefore, notAfter) as aware datetimes."""
    nb = openssl_date(x509_field(pem, "-startdate").split("=", 1)[1])
    na = openssl_date(x509_field(pem, "-enddate").split("=", 1)[1])
    return nb, na


def write(path, text, mode="w"):
    with open(path, mode) as f:
        f.write(text)
    return path


# --- PostgreSQL (the server CI starts on 127.0.0.1: scripts/bootstrap.sh) ---

POSTGRES_ADMIN_URL = os.environ.get("SCEPTER_TEST_POSTGRES", "")


def psql(url, sql):
    out = subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def second_node(a, workdir, postgres_url, *lines, name="b"):
    """Another scepterd serving a's CA from the same database: the CA's archive imported
    (`crypto pki import LABEL pkcs12`), the same `database url ser` and `lines`, `no
    shutdown`."""
    b = Daemon(os.path.join(workdir, name))
    b.start()
    shutil.copy(a.path(f"{LABEL}.p12"), b.path(f"{LABEL}.p12"))
    out = b.sh("configure terminal",
               f"crypto pki import {LABEL} pkcs12 nvram:{LABEL}.p12 cisco1234", "", "end")
    assert "Imported PKCS12 file successfully" in out, out
    out = b.sh("configure terminal", f"crypto pki server {LABEL}",
               f"database url ser {postgres_url}", *lines, "no shutdown", "end")
    assert "% Certificate Server enabled." in out, out
    return b


@pytest.fixture
def postgres_url():
    """A fresh database on the tests' PostgreSQL server (SCEPTER_TEST_POSTGRES, a libpq
    URL of a role that may create databases), dropped afterwards: its URL, password
    included. Skips when the variable is unset."""
    if not POSTGRES_ADMIN_URL:
        pytest.skip("set SCEPTER_TEST_POSTGRES to a PostgreSQL URL (bootstrap.sh does)")
    name = "scepter_it_" + uuid.uuid4().hex[:12]
    psql(POSTGRES_ADMIN_URL, f"CREATE DATABASE {name}")
    head = POSTGRES_ADMIN_URL.partition("?")[0]
    yield re.sub(r"/[^/]*$", "/" + name, head)
    psql(POSTGRES_ADMIN_URL, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
