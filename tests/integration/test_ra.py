"""scepterd as a registration authority (`mode ra [transparent]`), end to end on 127.0.0.1:
the RA enrols at its issuing CA (a scepterd root, a scepterd sub-CA, or micromdm's
scepserver) for a certificate whose subject names the RA role ("ou=ioscs RA"), enables
itself when that certificate arrives, and then takes the clients' SCEP requests, grants
them under its own policy and forwards them to the issuing CA, which issues the
certificates. The seed's "RA Mode Certificate Server Example"."""

import datetime
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import time

import pytest

from conftest import Daemon, openssl, wait_for, write
from scep_helpers import (SCEP_PATH, CapsRelay, Micromdm, ScepServer, StrongSwan,
                          database_counts, http_request, pki_scepca, wait_listening)
from seed_shapes import assert_guide_shape
from test_hierarchy import fingerprint, trustpoint_state

RA = "myra"
RA_SUBJECT = "cn=myra, ou=ioscs RA, o=company, c=us"


def ossl(*args):
    rc, out = openssl(*args)
    assert rc == 0, out
    return out


class RaClient(StrongSwan):
    """strongSwan `pki --scep` in front of an RA: the envelope goes to the RA certificate,
    which also signs the answers (--cacert-enc, --cacert-sig), and the issued certificate
    chains through `cacerts` (--cacert, the issuing CA and those above it)."""

    def __init__(self, root, name, url, ra_pem, cacerts, key_index, dn=None, enc_pem=None):
        super().__init__(root, name, url, ra_pem, key_index, dn)
        self.cacerts = list(cacerts)
        self.enc_pem = enc_pem  # an RA with usage keys: the certificate to encrypt to

    def args(self, **kw):
        a = super().args(**kw)
        if self.enc_pem:
            a[a.index("--cacert-enc") + 1] = self.enc_pem
        for path in self.cacerts:
            a += ["--cacert", path]
        return a


class Ra:
    """A scepterd whose certificate server `myra` is an RA in front of `upstream_port`,
    with its HTTP listener on 127.0.0.1 (on `port`, when not 0)."""

    def __init__(self, workdir, cleanup, upstream_port, subject=RA_SUBJECT, port=0):
        self.workdir = workdir
        self.d = Daemon(os.path.join(workdir, "ra"))
        cleanup.append(self.d)
        self.d.start()
        self.d.sh("configure terminal", "hostname ra", "ip http server", f"ip http port {port}",
                  "ip http bind-address 127.0.0.1", f"crypto pki trustpoint {RA}",
                  f"enrollment url http://127.0.0.1:{upstream_port}",
                  f"subject-name {subject}", "exit", "end")
        self.port = wait_listening(self.d, port)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}{SCEP_PATH}"

    def enable(self, *lines, mode="mode ra", ok=True):
        """Configures the server with `mode` and `lines`, then `no shutdown`, accepting
        the issuing CA's fingerprint. Returns the output."""
        return self.d.sh("configure terminal", f"crypto pki server {RA}", mode, *lines,
                         "no shutdown", "yes", "end", ok=ok)

    def show(self):
        return self.d.show_server(RA)

    def enabled(self):
        return self.d.server_enabled(RA)

    def cert_pem(self):
        """The RA certificate, written beside the NVRAM directory; its path."""
        pem = trustpoint_state(self.d, RA)["certificate"]
        return write(os.path.join(self.workdir, "ra-cert.pem"), pem)

    def requests(self):
        return self.d.requests(label=RA)

    def wait_row(self, state, subject_part=None, timeout=15):
        def row():
            for r in self.requests():
                if r["state"] == state and (subject_part is None or subject_part in r["subject"]):
                    return r
            return None
        return wait_for(row, timeout=timeout, what=f"an RA request {state}")

    def exec(self, what):
        return self.d.sh(f"crypto pki server {RA} {what}")


def stop(client):
    """Ends a RaClient started in the background that a failed check left running."""
    if client._proc.poll() is None:
        client._proc.kill()
        client._proc.wait()
    client._out.close()


def check_waiting(ra, out, root_pem):
    """What `no shutdown` printed (the fingerprint of the root of the upstream chain, as for
    `crypto pki authenticate`), and what show says while the RA certificate is awaited."""
    assert f"  Fingerprint MD5: {fingerprint(root_pem, 'md5')}\n" in out, out
    assert "Trustpoint CA certificate accepted." in out, out
    assert "% Certificate request sent to Certificate Authority" in out, out
    assert "% Enrollment in progress..." in out, out
    status = ra.show()
    assert "State: waiting for the superior CA" in status, status
    assert "Server configured in RA mode" in status, status


def approve_ra(ca, ra):
    """The issuing scepterd's operator grants the RA's certificate request, which is filed
    among the RA certificate requests and waits whatever the grant mode; the RA's next
    poll (its clock moved on by the retry period) brings the certificate, and the RA
    enables itself. Returns the RA certificate's path."""
    row = ca.wait_for_request("pending")[0]
    assert "ou=ioscs RA" in row["subject"], row
    listing = ca.d.sh("crypto pki server mycs info requests")
    section = listing.split("RA certificate requests:")[1].split("Router certificates requests:")[0]
    assert row["fingerprint"] in section, listing
    ca.exec(f"grant {row['id']}")
    ra.d.advance_clock(datetime.timedelta(minutes=2))
    wait_for(ra.enabled, timeout=30, what="the RA enabled")
    return ra.cert_pem()


def check_enabled(ra, ra_pem, issuing_pem):
    status = ra.show()
    assert "Server configured in RA mode" in status, status
    assert f"RA cert fingerprint: {fingerprint(ra_pem, 'md5')}" in status, status
    assert f"CA cert fingerprint: {fingerprint(issuing_pem, 'md5')}" in status, status
    text = ossl("x509", "-in", ra_pem, "-noout", "-subject")
    assert "ioscs RA" in text, text


def check_ra_http(ra, workdir, *labels):
    """GetCACert answers with the RA certificate and the chain; `pki --scepca` names each
    one; an RA has no CRL."""
    r = http_request(ra.port, "GET", f"{SCEP_PATH}?operation=GetCACert")
    assert r.status == 200, r.status
    assert r.header("content-type") == "application/x-x509-ca-ra-cert", r.headers
    rc, out = pki_scepca(ra.url, os.path.join(workdir, "ra-bundle.pem"))
    assert rc == 0, out
    for label in ("RA cert", *labels):
        assert label in out, out
    r = http_request(ra.port, "GET", f"{SCEP_PATH}?operation=GetCRL")
    assert r.status == 404, r.status


def verify_chain(root_pem, cert, untrusted=(), at=None):
    args = ["verify"]
    if at:
        args += ["-attime", str(int(at.timestamp()))]
    args += ["-CAfile", root_pem]
    if untrusted:
        chain = os.path.join(os.path.dirname(cert), os.path.basename(cert) + ".chain")
        write(chain, "".join(open(p).read() for p in untrusted))
        args += ["-untrusted", chain]
    out = ossl(*args, cert)
    assert out.strip().endswith("OK"), out


@pytest.fixture
def cleanup():
    """Daemons and processes to end when the test is over, whatever happened."""
    items = []
    yield items
    for item in reversed(items):
        if isinstance(item, Daemon):
            item.kill()
        elif isinstance(item, CapsRelay):
            item.close()
        elif isinstance(item, subprocess.Popen) and item.poll() is None:
            item.send_signal(signal.SIGTERM)
            try:
                item.wait(timeout=10)
            except subprocess.TimeoutExpired:
                item.kill()
                item.wait()


def start_root(workdir, cleanup, *lines):
    root = Daemon(os.path.join(workdir, "root"))
    cleanup.append(root)
    root.start()
    return ScepServer(root, workdir).listen().create_ca(*lines)


def start_ra(workdir, cleanup, upstream_port, **kw):
    return Ra(workdir, cleanup, upstream_port, **kw)


def test_ra_with_automatic_grants(workdir, cleanup):
    """RA `grant auto` in front of a root with `grant ra-auto`: the RA certificate still
    waits for the root's operator; then clients get their certificates at once."""
    scep = start_root(workdir, cleanup, "grant ra-auto", "yes")
    assert "Granting mode is: auto for RA-authorized requests, manual otherwise" in \
        scep.d.show_server(), scep.d.show_server()
    root_pem = scep.ca_pem()
    ra = start_ra(workdir, cleanup, scep.port,
                  subject="cn=myra, o=company, c=us")

    # Without the RA role in its subject, the issuing CA could not tell the RA apart.
    out = ra.enable("grant auto", "scep allow-des", ok=False)
    assert re.search(r"^%.*ioscs RA", out, re.M), out
    assert "Status: disabled" in ra.show(), ra.show()
    assert scep.requests() == []

    ra.d.sh("configure terminal", f"crypto pki server {RA}", "shutdown", "exit",
            f"crypto pki trustpoint {RA}", f"subject-name {RA_SUBJECT}", "end")
    out = ra.enable("grant auto", "scep allow-des")
    check_waiting(ra, out, root_pem)
    ra_pem = approve_ra(scep, ra)
    check_enabled(ra, ra_pem, root_pem)
    check_ra_http(ra, workdir, "Root CA cert")

    # strongSwan: the RA grants, the root grants what the RA vouches for, at once.
    issued = database_counts(scep.d)[1]
    client = RaClient(workdir, "leaf1", ra.url, ra_pem, [root_pem], key_index=1)
    rc, out = client.run()
    assert rc == 0, out + ra.d.log()[-3000:]
    verify_chain(root_pem, client.cert)
    assert "CN = leaf1" in ossl("x509", "-in", client.cert, "-noout", "-subject")
    row = ra.wait_row("granted", "cn=leaf1")
    root_rows = [r for r in scep.requests() if "cn=leaf1" in r["subject"]]
    assert [r["state"] for r in root_rows] == ["granted"], scep.requests()
    assert row["fingerprint"], row

    # micromdm's scepclient too (single DES to the RA: `scep allow-des`).
    mdm = Micromdm(workdir, "leaf2", ra.url, key_index=2)
    rc, out = mdm.run()
    assert rc == 0, out + ra.d.log()[-3000:]
    verify_chain(root_pem, mdm.cert)
    assert database_counts(scep.d)[1] == issued + 2


def test_ra_with_usage_keys(workdir, cleanup):
    """The other RA shape of RFC 8894 3.5.1: the RA's trustpoint has usage keys
    (`rsakeypair myra 2048 2048`), so the RA enrols two certificates — one that signs,
    one that clients encrypt to — and serves both before the CA. strongSwan (told which
    is which) and micromdm (which encrypts to every certificate it got) enrol through
    it."""
    scep = start_root(workdir, cleanup, "grant ra-auto", "yes")
    root_pem = scep.ca_pem()
    ra = start_ra(workdir, cleanup, scep.port)
    ra.d.sh("configure terminal", f"crypto pki trustpoint {RA}",
            f"rsakeypair {RA} 2048 2048", "end")
    out = ra.enable("grant auto", "scep allow-des")
    assert "% Enrollment in progress..." in out, out
    # Two RA certificate requests wait on the root, one per key.
    rows = scep.wait_for_request("pending", count=2)
    for row in rows:
        assert "ou=ioscs RA" in row["subject"], row
        scep.exec(f"grant {row['id']}")
    ra.d.advance_clock(datetime.timedelta(minutes=2))
    wait_for(ra.enabled, timeout=30, what="the RA enabled")
    state = trustpoint_state(ra.d, RA)
    sig_pem = write(os.path.join(workdir, "ra-sig.pem"), state["certificate"])
    enc_pem = write(os.path.join(workdir, "ra-enc.pem"), state["encryption_certificate"])
    assert "Digital Signature" in ossl("x509", "-in", sig_pem, "-noout", "-ext", "keyUsage")
    usage = ossl("x509", "-in", enc_pem, "-noout", "-ext", "keyUsage")
    assert "Key Encipherment" in usage and "Digital Signature" not in usage, usage
    status = ra.show()
    assert f"RA cert fingerprint: {fingerprint(sig_pem, 'md5')}" in status, status
    assert f"RA encryption cert fingerprint: {fingerprint(enc_pem, 'md5')}" in status, status
    certs = ra.d.sh(f"show crypto pki certificates {RA}")
    assert "Certificate Usage: Signature" in certs and \
        "Certificate Usage: Encryption" in certs, certs

    # GetCACert: both RA certificates and the root; strongSwan tells them apart.
    rc, out = pki_scepca(ra.url, os.path.join(workdir, "ra-bundle.pem"))
    assert rc == 0, out
    assert "Root CA cert" in out and out.count("RA cert is trusted") == 2, out

    client = RaClient(workdir, "leaf1", ra.url, sig_pem, [root_pem], key_index=1,
                      enc_pem=enc_pem)
    rc, out = client.run()
    assert rc == 0, out + ra.d.log()[-3000:]
    verify_chain(root_pem, client.cert)
    mdm = Micromdm(workdir, "leaf2", ra.url, key_index=2)
    rc, out = mdm.run()
    assert rc == 0, out + ra.d.log()[-3000:]
    verify_chain(root_pem, mdm.cert)
    # The RA's requests went up signed by its signature certificate, and nothing else
    # was issued.
    granted = [r for r in scep.requests() if r["state"] == "granted"]
    assert len(granted) == 4, scep.requests()


def test_ra_with_manual_grants_restart_and_revocation(workdir, cleanup, reserved_port):
    """RA and root both grant by hand: the RA's operator forwards, the root's operator
    issues, the client's polls fetch the certificate through the RA; a request waiting
    upstream survives a restart of the RA; once the RA certificate is revoked, the root
    refuses what the RA forwards."""
    scep = start_root(workdir, cleanup)
    root_pem = scep.ca_pem()
    ra = start_ra(workdir, cleanup, scep.port, port=reserved_port)
    out = ra.enable("scep allow-des")
    check_waiting(ra, out, root_pem)
    ra_pem = approve_ra(scep, ra)
    check_enabled(ra, ra_pem, root_pem)
    assert "Granting mode is: manual" in ra.show(), ra.show()
    assert_guide_shape(1836, ra.show())  # the guide's enabled RA
    issued = database_counts(scep.d)[1]

    # 1. strongSwan polls the RA (every second) while both operators decide.
    client = RaClient(workdir, "leaf1", ra.url, ra_pem, [root_pem], key_index=1).start(poll=60)
    try:
        row = ra.wait_row("pending", "cn=leaf1")
        assert [r for r in scep.requests() if "cn=leaf1" in r["subject"]] == []
        ra.exec(f"grant {row['id']}")
        ra.wait_row("authorized", "cn=leaf1")
        up = scep.wait_for_request("authorized")[0]  # vouched for by the RA
        assert "cn=leaf1" in up["subject"], up
        listing = scep.d.sh("crypto pki server mycs info requests")
        router = listing.split("Router certificates requests:")[1]
        assert up["fingerprint"] in router, listing
        scep.exec(f"grant {up['id']}")
        rc, out = client.finish(timeout=60)
    finally:
        stop(client)
    assert rc == 0, out + ra.d.log()[-3000:]
    verify_chain(root_pem, client.cert)
    ra.wait_row("granted", "cn=leaf1")

    # 2. A request waiting upstream while the RA restarts is neither lost nor sent twice.
    mdm = Micromdm(workdir, "leaf2", ra.url, key_index=2)
    mdm.run_until_pending()
    row = ra.wait_row("pending", "cn=leaf2")
    ra.exec(f"grant {row['id']}")
    ra.wait_row("authorized", "cn=leaf2")
    up = wait_for(lambda: [r for r in scep.requests()
                           if "cn=leaf2" in r["subject"] and r["state"] == "authorized"],
                  what="leaf2 authorized at the root")[0]
    ra.d.sh("write memory")
    ra.d.restart()
    wait_listening(ra.d, reserved_port)
    status = ra.show()
    assert "Status: enabled" in status and "Server configured in RA mode" in status, \
        status + ra.d.log()[-2000:]
    assert [r["state"] for r in ra.requests() if "cn=leaf2" in r["subject"]] == ["authorized"]
    scep.exec(f"grant {up['id']}")
    out = fetch_through(mdm, timeout=30)
    assert "pkiStatus=SUCCESS" in out, out + ra.d.log()[-3000:]
    verify_chain(root_pem, mdm.cert)
    ra.wait_row("granted", "cn=leaf2")
    leaf2_rows = [r for r in scep.requests() if "cn=leaf2" in r["subject"]]
    assert len(leaf2_rows) == 1, scep.requests()
    assert database_counts(scep.d)[1] == issued + 2  # leaf1's and leaf2's: no duplicate

    # 3. The RA certificate revoked on the root: what the RA forwards next is refused.
    ra_serial = ossl("x509", "-in", ra_pem, "-noout", "-serial").split("=")[1].strip()
    scep.exec(f"revoke 0x{ra_serial}")
    client = RaClient(workdir, "leaf3", ra.url, ra_pem, [root_pem], key_index=3).start(poll=30)
    try:
        row = ra.wait_row("pending", "cn=leaf3")
        # The RA forwards at once; the operator is told of the refusal.
        out = ra.d.sh(f"crypto pki server {RA} grant {row['id']}", ok=None)
        assert "rejected the request (badRequest)" in out and "revoked" in out, out
        ra.wait_row("denied", "cn=leaf3", timeout=30)
        rc, out = client.finish(timeout=40)
    finally:
        stop(client)
    assert rc != 0, out
    assert database_counts(scep.d)[1] == issued + 2
    assert not [r for r in scep.requests()
                if "cn=leaf3" in r["subject"] and r["state"] == "granted"], scep.requests()


def test_ra_in_front_of_a_subordinate_ca(workdir, cleanup):
    """Three tiers: root <- sub-CA <- RA. The RA enrols at the sub-CA; clients enrol
    through the RA; their certificates verify to the root through the sub-CA."""
    scep = start_root(workdir, cleanup)
    root_pem = scep.ca_pem()
    sub = Daemon(os.path.join(workdir, "sub"))
    cleanup.append(sub)
    sub.start()
    sub.sh("configure terminal", "hostname sub", "ip http server", "ip http port 0",
           "ip http bind-address 127.0.0.1", "crypto pki trustpoint mycs",
           f"enrollment url http://127.0.0.1:{scep.port}", "end")
    sub_scep = ScepServer(sub, workdir)
    sub_scep.port = wait_listening(sub)
    out = sub.sh("configure terminal", "crypto pki server mycs",
                 "database archive pkcs12 password cisco1234",
                 "issuer-name CN=subca, O=Example", "grant auto", "mode sub-cs",
                 "no shutdown", "yes", "end")
    assert "% Certificate request sent to Certificate Authority" in out, out
    row = scep.wait_for_request("pending")[0]
    scep.exec(f"grant {row['id']}")
    sub.advance_clock(datetime.timedelta(minutes=2))
    wait_for(lambda: sub.server_enabled(), timeout=30, what="the sub-CA enabled")
    # Back to the real time, so that what the sub-CA issues (the RA certificate among them)
    # is already valid for strongSwan, which checks at the real time.
    sub.set_clock(datetime.datetime.now(datetime.timezone.utc))
    sub_pem = write(os.path.join(workdir, "subca.pem"),
                    trustpoint_state(sub, "mycs")["certificate"])

    ra = start_ra(workdir, cleanup, sub_scep.port)
    out = ra.enable("grant auto")
    check_waiting(ra, out, root_pem)
    ra_pem = approve_ra(sub_scep, ra)
    check_enabled(ra, ra_pem, sub_pem)
    check_ra_http(ra, workdir, "Root CA cert", "Sub CA cert")

    client = RaClient(workdir, "leaf1", ra.url, ra_pem, [sub_pem, root_pem], key_index=1)
    rc, out = client.run()
    assert rc == 0, out + ra.d.log()[-3000:]
    at = max(sub.now(), ra.d.now()) + datetime.timedelta(seconds=1)
    verify_chain(root_pem, client.cert, [sub_pem], at=at)
    verify_chain(root_pem, ra_pem, [sub_pem], at=at)
    issuer = ossl("x509", "-in", client.cert, "-noout", "-issuer")
    assert "CN = subca" in issuer, issuer


def fetch_through(mdm, timeout):
    """Runs micromdm's scepclient until it gets an answer other than PENDING. On PENDING it
    would sleep 30 s and send the same request again; instead it is stopped there and run
    again a second later, which sends the same request (a poll, for the RA). Returns the
    output of the last run (still PENDING when `timeout` passed)."""
    deadline = time.time() + timeout
    while True:
        p = subprocess.Popen(mdm.args(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out = b""
        try:
            while b"pkiStatus=PENDING" not in out:
                left = deadline - time.time()
                if left <= 0:
                    return "scepclient did not finish:\n" + out.decode(errors="replace")
                ready, _, _ = select.select([p.stdout], [], [], left)
                chunk = os.read(p.stdout.fileno(), 4096) if ready else b""
                if ready and not chunk:
                    break
                out += chunk
        finally:
            if p.poll() is None:
                p.kill()
            p.wait()
            p.stdout.close()
        if b"pkiStatus=PENDING" not in out:
            return out.decode(errors="replace")
        if time.time() >= deadline:
            return out.decode(errors="replace")
        time.sleep(1)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not shutil.which("scepserver"), reason="micromdm scepserver not installed")
def test_transparent_ra_in_front_of_micromdm(workdir, cleanup):
    """`mode ra transparent` in front of micromdm's scepserver, which issues whatever it is
    asked, at once: the RA certificate arrives without an operator, and the clients'
    requests go through unchanged and come back issued by micromdm's CA."""
    depot = os.path.join(workdir, "depot")
    subprocess.run(["scepserver", "ca", "-init", "-depot", depot, "-keySize", "2048"],
                   check=True, capture_output=True, timeout=60)
    mdm_ca = os.path.join(depot, "ca.pem")
    port = free_port()  # scepserver binds every address; nothing else takes the port meanwhile
    log = open(os.path.join(workdir, "scepserver.log"), "w")
    server = subprocess.Popen(["scepserver", "-depot", depot, "-port", str(port),
                               "-allowrenew", "0"], stdout=log, stderr=subprocess.STDOUT)
    cleanup.append(server)
    wait_for(lambda: _connects(port), timeout=15, what="scepserver listening")
    relay = CapsRelay(port, path="/scep").start()
    cleanup.append(relay)

    ra = start_ra(workdir, cleanup, relay.port)
    out = ra.enable("grant auto", "scep allow-des", mode="mode ra transparent")
    assert f"  Fingerprint MD5: {fingerprint(mdm_ca, 'md5')}\n" in out, out
    assert "Trustpoint CA certificate accepted." in out, out
    try:
        wait_for(ra.enabled, timeout=30, what="the RA enabled")
    except AssertionError as e:
        raise AssertionError(f"{e}\n{ra.show()}{ra.d.log()[-3000:]}\n"
                             + open(os.path.join(workdir, "scepserver.log")).read()[-2000:])
    ra_pem = ra.cert_pem()
    check_enabled(ra, ra_pem, mdm_ca)
    verify_chain(mdm_ca, ra_pem)
    check_ra_http(ra, workdir, "Root CA cert")

    client = RaClient(workdir, "leaf1", ra.url, ra_pem, [mdm_ca], key_index=1)
    rc, out = client.run()
    assert rc == 0, out + ra.d.log()[-3000:]
    verify_chain(mdm_ca, client.cert)
    text = ossl("x509", "-in", client.cert, "-noout", "-subject", "-issuer")
    assert "CN = leaf1" in text, text
    ra.wait_row("granted", "cn=leaf1")


def _connects(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False
