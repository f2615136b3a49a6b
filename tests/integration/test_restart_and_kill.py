"""What survives a restart (CA, serial counter, requests, CRL, one-time password), and
serial uniqueness when scepterd is killed (SIGKILL) in the middle of concurrent issuing."""

import base64
import os
import random
import re
import subprocess
import threading
import time

from conftest import (SCEPTER, make_csr, make_otp_csr, extract_certificate, extract_certificates,
                      cert_serial, wait_for, openssl)


def test_restart_keeps_ca_serials_requests_crl_and_otp(daemon, workdir):
    d = daemon
    d.create_ca()
    csrs = [make_csr(workdir, f"r{i}", f"/CN=r{i}", key="ec:prime256v1") for i in range(4)]
    for csr in csrs[:3]:
        d.submit(csr)
    d.sh("crypto pki server mycs grant 1")
    d.sh("crypto pki server mycs reject 2")
    d.sh("crypto pki server mycs revoke 2")
    otp = re.search(r"password: (\S+)",
                    d.sh("crypto pki server mycs password generate 30")).group(1)
    show = d.show_server()
    requests = d.requests()
    crl = d.sh("crypto pki server mycs info crl")
    certs = d.sh("show crypto pki server mycs certificates")
    d.sh("write memory")
    d.restart()

    assert d.show_server() == show
    assert d.requests() == requests
    assert d.sh("crypto pki server mycs info crl") == crl
    assert d.sh("show crypto pki server mycs certificates") == certs
    # the pending request can still be granted, and serials go on from 0x2
    out = d.sh("crypto pki server mycs grant 3")
    assert cert_serial(extract_certificate(out)) == 3
    # the one-time password still works after the restart (once)
    out = d.submit(make_otp_csr(workdir, "otp", "otp", otp))
    assert "% Granted certificate:" in out
    assert cert_serial(extract_certificate(out)) == 4
    assert "reqId=5" in d.submit(csrs[3])


def test_sigterm_then_start_without_write_memory_keeps_the_database(daemon, workdir):
    """The database is not configuration: it is on disk as soon as a request is granted,
    whether or not the configuration was saved."""
    d = daemon
    d.create_ca("grant auto")
    d.sh("write memory")
    pem = extract_certificate(d.submit(make_csr(workdir, "a", "/CN=a", key="ec:prime256v1")))
    d.kill()
    d.start()
    assert "Last certificate issued serial number: 0x2" in d.show_server()
    listing = d.sh("show crypto pki server mycs certificates")
    assert re.search(r"(?m)^2\s.*cn=a$", listing)
    pem2 = extract_certificate(d.submit(make_csr(workdir, "b", "/CN=b", key="ec:prime256v1")))
    assert cert_serial(pem2) == cert_serial(pem) + 1


class Client(threading.Thread):
    """Submits CSRs in a loop through its own `scepter` processes, remembering every
    certificate it was given. Survives the daemon going away (exit status 2)."""

    def __init__(self, d, csrs, stop):
        super().__init__(daemon=True)
        self.d, self.csrs, self.stop = d, csrs, stop
        self.received = []  # DER bytes
        self.errors = []

    def run(self):
        i = 0
        while not self.stop.is_set():
            csr = self.csrs[i % len(self.csrs)]
            i += 1
            text = ("crypto pki server mycs request pkcs10 terminal pem\n" + csr.strip() +
                    "\n\n")
            try:
                p = subprocess.run([SCEPTER, "--socket", self.d.socket], input=text,
                                   capture_output=True, text=True, timeout=30)
            except subprocess.TimeoutExpired:
                self.errors.append("timeout")
                continue
            if "BEGIN CERTIFICATE" in p.stdout:
                pem = extract_certificate(p.stdout)
                body = "".join(l for l in pem.splitlines() if not l.startswith("-----"))
                self.received.append(base64.b64decode(body))
            elif p.returncode == 0:
                self.errors.append(p.stdout)  # succeeded but printed no certificate
            else:
                time.sleep(0.02)  # the daemon is down or restarting


def der_serial(der):
    p = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-serial"], input=der,
                       capture_output=True, check=True)
    return int(p.stdout.decode().strip().split("=")[1], 16)


def test_sigkill_during_concurrent_issuing_never_reuses_a_serial(daemon, workdir):
    d = daemon
    d.create_ca("grant auto", "database level complete")
    d.sh("write memory")
    csrs = [make_csr(workdir, f"k{i}", f"/O=Example/CN=k{i}", key="ec:prime256v1")
            for i in range(4)]
    stop = threading.Event()
    clients = [Client(d, csrs[i::4] or csrs, stop) for i in range(4)]
    for c in clients:
        c.start()
    rng = random.Random(1234)
    try:
        for _ in range(4):
            # let some certificates go out, then kill at a random moment
            start = sum(len(c.received) for c in clients)
            wait_for(lambda: sum(len(c.received) for c in clients) >= start + 5, timeout=60,
                     what="certificates issued")
            time.sleep(rng.uniform(0, 0.5))
            d.kill()
            d.start()
            wait_for(lambda: "Status: enabled" in d.show_server(), what="server enabled")
        start = sum(len(c.received) for c in clients)
        wait_for(lambda: sum(len(c.received) for c in clients) >= start + 5, timeout=60,
                 what="certificates after the last restart")
    finally:
        stop.set()
        for c in clients:
            c.join(timeout=60)
    assert not [e for c in clients for e in c.errors], [e for c in clients for e in c.errors]

    received = [der for c in clients for der in c.received]
    serials = [der_serial(der) for der in received]
    assert len(serials) == len(set(serials)), "a serial was handed out twice"

    listing = d.sh("show crypto pki server mycs certificates")
    db_serials = [int(m, 16) for m in re.findall(r"(?m)^([0-9A-F]+)\s", listing)]
    assert len(db_serials) == len(set(db_serials))
    assert set(serials) <= set(db_serials), "a client holds a certificate the CA forgot"
    for der, serial in zip(received, serials):
        with open(d.path(f"{serial:X}.cer"), "rb") as f:
            assert f.read() == der
    cer_files = [int(f[:-4], 16) for f in os.listdir(d.nvram) if f.endswith(".cer")
                 and "#" not in f]
    assert set(cer_files) <= set(db_serials)

    # the counter continues above everything issued
    last = int(re.search(r"Last certificate issued serial number: 0x([0-9A-F]+)",
                         d.show_server()).group(1), 16)
    assert last >= max(db_serials)
    pem = extract_certificate(d.submit(csrs[0]))
    assert cert_serial(pem) > max(db_serials)
    with open(os.path.join(workdir, "last.pem"), "w") as f:
        f.write(pem)
    rc, out = openssl("verify", "-CAfile", d.ca_pem_file(), os.path.join(workdir, "last.pem"))
    assert rc == 0, out


def test_concurrent_grant_all_grants_each_request_once(daemon, workdir):
    d = daemon
    d.create_ca()
    csr = make_csr(workdir, "g", "/CN=g", key="ec:prime256v1")
    for _ in range(12):
        d.submit(csr)
    outputs = [None, None, None]

    def grant_all(i):
        outputs[i] = d.sh("crypto pki server mycs grant all")
    threads = [threading.Thread(target=grant_all, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    serials = [cert_serial(pem) for out in outputs for pem in extract_certificates(out)]
    assert sorted(serials) == list(range(2, 14))
    assert all(r["state"] == "granted" for r in d.requests())
