"""Fixtures for end-to-end tests: a real scepterd in a temporary NVRAM directory,
driven through the real `scepter` shell over its UNIX socket."""

import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

BIN_DIR = os.environ.get("SCEPTER_BIN_DIR", os.path.join(os.path.dirname(__file__), "../../build"))
SCEPTERD = os.path.join(BIN_DIR, "src/daemon/scepterd")
SCEPTER = os.path.join(BIN_DIR, "src/shell/scepter")


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
        if ok is True:
            assert rc == 0, f"lines {lines} failed:\n{out}"
        elif ok is False:
            assert rc == 1, f"lines {lines} should have failed:\n{out}"
        return out

    def path(self, name):
        return os.path.join(self.nvram, name)


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


def openssl(*args, input=None):
    p = subprocess.run(["openssl", *args], input=input, capture_output=True)
    return p.returncode, p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")


def make_csr(workdir, name, subject, key="rsa:2048", extra=()):
    key_path = os.path.join(workdir, name + ".key")
    csr_path = os.path.join(workdir, name + ".csr")
    if key.startswith("ec:"):
        subprocess.run(["openssl", "ecparam", "-name", key[3:], "-genkey", "-noout",
                        "-out", key_path], check=True, capture_output=True)
        args = ["-key", key_path]
    else:
        args = ["-newkey", key, "-nodes", "-keyout", key_path]
    subprocess.run(["openssl", "req", "-new", *args, "-subj", subject, "-out", csr_path,
                    *extra], check=True, capture_output=True)
    with open(csr_path) as f:
        return f.read()
