"""What survives a restart (CA, serial counter, requests, CRL, one-time password), and
serial uniqueness when scepterd is killed (SIGKILL) in the middle of concurrent SCEP
enrolment."""

import hashlib
import os
import random
import re
import shutil
import signal
import subprocess
import threading
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from conftest import (BIN_DIR, LABEL, make_csr, make_otp_csr, extract_certificate,
                      extract_certificates, cert_serial, wait_for, openssl, write)
from scep_helpers import ScepServer, wait_listening


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


def scep_load_path():
    """bench/scep_load in the build directory of the binaries under test (the default
    build makes it: bench/ is part of every configuration)."""
    return os.path.join(BIN_DIR, "bench/scep_load")


# RSA-2048 keys for scep_load, kept beside it in the build directory: generating a few
# hundred takes the better part of a minute on two cores, so each is made once.
KEYS_CACHE = os.path.join(BIN_DIR, "bench/scep_load_test_keys.pem")


def pem_key_count(path):
    try:
        with open(path) as f:
            return f.read().count("-----END PRIVATE KEY-----")
    except FileNotFoundError:
        return 0


def cached_keys(workdir):
    """A copy of the requester keys earlier runs made (KEYS_CACHE) in `workdir`, for
    scep_load --keys: it adds what is missing."""
    keys = os.path.join(workdir, "keys.pem")
    if os.path.exists(KEYS_CACHE):
        shutil.copy(KEYS_CACHE, keys)
    return keys


def keep_keys(keys):
    """Keeps the keys scep_load made for the next runs."""
    if pem_key_count(keys) > pem_key_count(KEYS_CACHE):
        shutil.copy(keys, KEYS_CACHE + ".tmp")
        os.replace(KEYS_CACHE + ".tmp", KEYS_CACHE)


def load_result(out):
    """scep_load's last RESULT line, as a dict."""
    return dict(re.findall(r"(\w+)=(\S+)", [l for l in out.splitlines()
                                             if l.startswith("RESULT ")][-1]))


def list_certificates(d):
    """`show crypto pki server mycs certificates`: [(serial, subject)]."""
    listing = d.sh("show crypto pki server mycs certificates")
    return [(int(m.group(1), 16), m.group(2)) for m in
            re.finditer(r"(?m)^([0-9A-F]+)\s+.*?\d{4}\s+.*?\d{4}\s+(\S.*)$", listing)]


def saved_count(save_dir):
    return sum(1 for f in os.listdir(save_dir) if f.endswith(".der"))


LOAD_N = 600
LOAD_TAG = "kill"


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_sigkill_during_concurrent_issuing_never_reuses_a_serial(daemon, workdir,
                                                                 reserved_port, engine,
                                                                 request):
    """16 SCEP clients (bench/scep_load --retry) enrol while scepterd is killed with
    SIGKILL and restarted four times. Every request ends in SUCCESS; each certificate a
    client holds is in the database, once, with its own serial; a transaction that was
    resent after a kill got the same certificate, not a second one. The main database is
    the SQLite file or a PostgreSQL database."""
    assert os.path.exists(scep_load_path()), "build bench/scep_load (ninja scep_load)"
    database = ([f"database url ser {request.getfixturevalue('postgres_url')}"]
                if engine == "postgresql" else [])
    d = daemon
    # A fixed port (kept for the test): scep_load reconnects to it after each restart.
    scep = ScepServer(d, workdir).listen(reserved_port)
    scep.create_ca("grant auto", "database level complete", *database)
    d.sh("write memory")
    ca_pem = scep.ca_pem()
    ca_serial = x509.load_der_x509_certificate(d.ca_der()).serial_number

    keys = cached_keys(workdir)
    save_dir = os.path.join(workdir, "issued")
    log_path = os.path.join(workdir, "scep_load.log")
    with open(log_path, "w") as log:
        load = subprocess.Popen(
            [scep_load_path(), "--port", str(scep.port), "--label", LABEL, "--mode", "enroll",
             "--n", str(LOAD_N), "--c", "16", "--keys", keys, "--tag", LOAD_TAG, "--retry",
             "--retry-seconds", "60", "--save-dir", save_dir],
            stdout=log, stderr=subprocess.STDOUT)

    def load_log():
        with open(log_path) as f:
            return f.read()

    seed = random.randrange(1 << 30)
    print(f"kill points: random.Random({seed})")  # shown when the test fails
    rng = random.Random(seed)
    kills = 4
    probes = []  # serial of a certificate issued through the shell after each restart
    unfiled = set()  # serials committed by a killed process that has no <serial>.cer
    try:
        # Keys are generated (once per build directory) before the first request.
        wait_for(lambda: load.poll() is not None or
                 (os.path.isdir(save_dir) and saved_count(save_dir) > 0), timeout=300,
                 what="the first certificate", interval=0.01)
        for k in range(kills):
            # kill at a random point after some more certificates went out
            target = saved_count(save_dir) + rng.randint(8, 30)
            wait_for(lambda: saved_count(save_dir) >= target or load.poll() is not None,
                     timeout=60, what="certificates issued", interval=0.005)
            assert load.poll() is None, (f"scep_load finished before kill {k + 1} (seed "
                                         f"{seed}):\n{load_log()}")
            time.sleep(rng.uniform(0, 0.02))
            delivered = {f for f in os.listdir(save_dir) if f.endswith(".der")}
            d.kill()
            d.start()
            wait_for(lambda: "Status: enabled" in d.show_server(), what="server enabled")
            wait_listening(d, scep.port)  # the restarted daemon's listener
            # The clients wait while the restarted server is checked: on a fast machine
            # they would otherwise be through before the next kill.
            load.send_signal(signal.SIGSTOP)
            # the restarted server's counter is above every committed certificate, and
            # above every certificate a client held when the old process died
            listed = [s for s, _ in list_certificates(d)]
            pem = extract_certificate(d.submit(
                make_csr(workdir, f"probe{k}", f"/CN=probe{k}", key="ec:prime256v1")))
            probes.append(cert_serial(pem))
            assert probes[-1] > max(listed), (probes[-1], max(listed))
            for f in delivered:
                with open(os.path.join(save_dir, f), "rb") as fh:
                    assert x509.load_der_x509_certificate(fh.read()).serial_number < probes[-1]
            # the new process writes a certificate's files right after its commit, long
            # before the probe is through: one still without its file is the old one's
            unfiled |= {s for s in listed
                        if s != ca_serial and not os.path.exists(d.path(f"{s:X}.cer"))}
            load.send_signal(signal.SIGCONT)
        load.wait(timeout=120)
    finally:
        if load.poll() is None:
            load.send_signal(signal.SIGCONT)
            load.kill()
            load.wait()
    out = load_log()
    keep_keys(keys)

    # scep_load: every request answered SUCCESS, verified, and saved
    assert load.returncode == 0, out
    result = load_result(out)
    assert result["success"] == str(LOAD_N), out
    for field in ("pending", "failure", "http_errors", "bad_replies", "unverified",
                  "wrong_key", "dup_serials", "gave_up", "save_errors"):
        assert result[field] == "0", (field, out)
    assert result["saved"] == str(LOAD_N), out
    assert int(result["retries"]) > 0, out  # the kills were felt

    saved = {}  # transactionID -> DER
    for f in os.listdir(save_dir):
        if f.endswith(".der"):
            with open(os.path.join(save_dir, f), "rb") as fh:
                saved[f[:-4]] = fh.read()
    assert len(saved) == LOAD_N
    certs = {tid: x509.load_der_x509_certificate(der) for tid, der in saved.items()}

    # one certificate per key, for the transactionID that key makes, and unique serials
    for tid, cert in certs.items():
        spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        assert hashlib.md5(spki + LOAD_TAG.encode()).hexdigest().upper() == tid
    serials = {tid: cert.serial_number for tid, cert in certs.items()}
    assert len(set(serials.values())) == LOAD_N, "a serial was handed out twice"

    # the database holds each of them, byte for byte, and nothing more for their
    # subjects or keys: a transaction resent after a kill did not get a second certificate
    listed = [(s, subject) for s, subject in list_certificates(d) if s != ca_serial]
    db_serials = [s for s, _ in listed]
    assert len(db_serials) == len(set(db_serials))
    assert set(serials.values()) <= set(db_serials), "a client holds a certificate the CA forgot"
    load_rows = [(s, subject) for s, subject in listed if "scep-load-" in subject]
    assert sorted(s for s, _ in load_rows) == sorted(serials.values()), \
        "the database has certificates for the load that no client received"
    subjects = [subject for _, subject in load_rows]
    assert len(subjects) == len(set(subjects)) == LOAD_N
    assert len(db_serials) == LOAD_N + kills
    assert set(probes) <= set(db_serials)
    cer_files = [int(f[:-4], 16) for f in os.listdir(d.nvram) if f.endswith(".cer")
                 and "#" not in f]
    assert set(cer_files) <= set(db_serials)
    by_key = {}
    for serial in cer_files:
        with open(d.path(f"{serial:X}.cer"), "rb") as f:
            cert = x509.load_der_x509_certificate(f.read())
        spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        by_key.setdefault(spki, []).append(serial)
    assert all(len(s) == 1 for s in by_key.values()), [s for s in by_key.values() if len(s) > 1]
    missing = sorted(set(db_serials) - set(cer_files))
    for tid, serial in serials.items():
        if serial not in missing:
            with open(d.path(f"{serial:X}.cer"), "rb") as f:
                assert f.read() == saved[tid]

    # the counter continues above everything issued
    last = int(re.search(r"Last certificate issued serial number: 0x([0-9A-F]+)",
                         d.show_server()).group(1), 16)
    assert last >= max(db_serials)
    pem = extract_certificate(d.submit(make_csr(workdir, "last", "/CN=last",
                                                key="ec:prime256v1")))
    assert cert_serial(pem) > max(db_serials)

    # all of them verify against the CA
    pem_dir = os.path.join(workdir, "pem")
    os.makedirs(pem_dir)
    paths = []
    for tid, cert in certs.items():
        paths.append(write(os.path.join(pem_dir, tid + ".pem"),
                           cert.public_bytes(Encoding.PEM).decode()))
    paths.append(write(os.path.join(pem_dir, "last.pem"), pem))
    rc, verified = openssl("verify", "-CAfile", ca_pem, *paths)
    assert rc == 0, verified
    assert verified.count(": OK\n") == len(paths), verified


    # `database level complete`: every certificate has its <serial>.cer, also one whose
    # transaction was committed just before a kill and given to the client on its resend
    missing_hex = [f"{s:X}" for s in missing]
    if missing and set(missing) <= unfiled:
        pytest.xfail("scepterd commits a certificate before writing its <serial>.cer and "
                     "does not write it after a crash in between (a resent transaction gets "
                     f"the certificate from the database): no .cer for {missing_hex}")
    assert not missing, f"no nvram:<serial>.cer for certificates in the database: {missing_hex}"


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
