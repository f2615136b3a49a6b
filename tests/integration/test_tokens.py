"""A certificate server whose CA key lives on a PKCS#11 token: SoftHSM2 (a real PKCS#11
module, standing in for an HSM or USB token that cannot run here), set up with
`softhsm2-util` as an operator would. strongSwan and micromdm clients enrol, a
certificate is revoked and the CRL signed on the token; a wrong PIN, and the token's
store vanishing under a running server, are reported and recovered from. An EC CA hands
the opening of SCEP envelopes to an RSA key on the token."""

import os
import re
import shutil
import subprocess

import pytest

from conftest import Daemon, openssl, wait_for
from scep_helpers import (SCEP_PATH, Micromdm, ScepServer, StrongSwan, cert_field,
                          cert_serial_of, http_request, verify)

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
PIN = "1234"

pytestmark = pytest.mark.skipif(not os.path.exists(MODULE), reason="softhsm2 is not installed")


class SoftHsm:
    """A SoftHSM2 token store of the test's own (SOFTHSM2_CONF points at it)."""

    def __init__(self, root):
        self.tokens = os.path.join(root, "tokens")
        os.makedirs(self.tokens)
        self.conf = os.path.join(root, "softhsm2.conf")
        with open(self.conf, "w") as f:
            f.write(f"directories.tokendir = {self.tokens}\nobjectstore.backend = file\n"
                    "log.level = ERROR\nslots.removable = false\n")
        self.env = dict(os.environ, SOFTHSM2_CONF=self.conf)

    def init_token(self, label):
        p = subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", label,
                            "--so-pin", "5678", "--pin", PIN], env=self.env,
                           capture_output=True, text=True)
        assert p.returncode == 0, p.stdout + p.stderr

    def objects(self, label):
        p = subprocess.run(["pkcs11-tool", "--module", MODULE, "--token-label", label,
                            "--login", "--pin", PIN, "--list-objects"], env=self.env,
                           capture_output=True, text=True)
        return p.stdout + p.stderr


@pytest.fixture
def hsm(workdir):
    h = SoftHsm(workdir)
    h.init_token("ca-token")
    return h


@pytest.fixture
def tdaemon(workdir, hsm):
    d = Daemon(os.path.join(workdir, "d"))
    d.env["SOFTHSM2_CONF"] = hsm.conf
    d.start()
    yield d
    d.kill()


def token_line(pin=PIN):
    return f"crypto pki token token0 module {MODULE} label ca-token user-pin {pin}"


def token_ca(tdaemon, workdir):
    """A token, the CA trustpoint's keys on it, and the server enabled in grant auto."""
    out = tdaemon.sh("configure terminal", token_line(), "crypto pki trustpoint mycs",
                     "on token0:", "end")
    assert "% Token token0 logged in." in out, out
    scep = ScepServer(tdaemon, workdir).listen()
    out = tdaemon.create_ca("grant auto", "scep allow-des")
    assert "keys will be on-token, non-exportable" in out, out
    assert ("% The CA key is on token token0 and never leaves it: the archive holds the CA "
            "certificate only.") in out, out
    return scep


def test_ca_key_on_a_token_enrols_revokes_and_survives_a_restart(tdaemon, hsm, workdir):
    scep = token_ca(tdaemon, workdir)

    # The key is the token's: never extractable there, no private key anywhere on disk.
    objects = hsm.objects("ca-token")
    assert re.search(r"Private Key Object; RSA\s+label:\s+mycs", objects), objects
    assert "never extractable" in objects, objects
    key_file = open(tdaemon.path("private-keys/mycs.key")).read()
    assert "on=token0" in key_file and "PRIVATE" not in key_file, key_file
    rc, p12 = openssl("pkcs12", "-in", tdaemon.path("mycs.p12"), "-passin", "pass:cisco1234",
                      "-nodes", "-info")
    assert rc == 0 and "BEGIN CERTIFICATE" in p12 and "PRIVATE KEY" not in p12, p12
    out = tdaemon.sh("show crypto key mypubkey rsa mycs")
    assert " Storage Device: token0" in out, out
    out = tdaemon.sh("show crypto pki token")
    assert "Status:          logged in" in out and "    mycs" in out, out

    # Clients of both kinds enrol; every certificate is signed on the token.
    sw = StrongSwan(workdir, "sw1", scep.url, scep.ca_pem(), 0)
    rc, out = sw.run()
    assert rc == 0 and "Issued certificate" in out, out
    verify(scep.ca_pem(), sw.cert)
    mm = Micromdm(workdir, "m1", scep.url, 1)
    rc, out = mm.run()
    assert rc == 0 and "pkiStatus=SUCCESS" in out, out
    verify(scep.ca_pem(), mm.cert)

    # A revocation lands on a CRL the token signed.
    serial = cert_serial_of(sw.cert)
    scep.exec(f"revoke {serial:x}")
    crl_pem = os.path.join(workdir, "mycs.crl.pem")
    rc, out = openssl("crl", "-inform", "DER", "-in", tdaemon.path("mycs.crl"), "-out", crl_pem)
    assert rc == 0, out
    rc, out = openssl("crl", "-in", crl_pem, "-CAfile", scep.ca_pem(), "-noout", "-text")
    assert rc == 0 and "verify OK" in out, out
    assert f"Serial Number: {serial:02X}" in out, out

    # A restart logs in to the token from the startup-config and issues again.
    tdaemon.sh("write memory")
    tdaemon.restart()
    wait_for(tdaemon.server_enabled, what="the server enabled after the restart")
    scep = ScepServer(tdaemon, workdir).listen()  # port 0: a new free port
    sw2 = StrongSwan(workdir, "sw2", scep.url, scep.ca_pem(), 2)
    rc, out = sw2.run()
    assert rc == 0 and "Issued certificate" in out, out
    verify(scep.ca_pem(), sw2.cert)
    assert "1234" not in open(tdaemon.path("startup-config")).read()


def test_wrong_pin_and_a_lost_token_are_reported_and_recovered(tdaemon, hsm, workdir):
    out = tdaemon.sh("configure terminal", token_line("9999"), "end")
    assert ("% Token token0 is configured but cannot be used: token token0: wrong user PIN"
            in out), out
    out = tdaemon.sh("show crypto pki token token0")
    assert "Status:          not logged in (token token0: wrong user PIN)" in out, out
    # The server cannot make its key on a token it cannot use: it says so and stays down.
    out = tdaemon.sh("configure terminal", "crypto pki trustpoint mycs", "on token0:",
                     "crypto pki server mycs", "database archive pkcs12 password cisco1234",
                     "grant auto", "no shutdown", "yes", "end", ok=None)
    assert "The CA key cannot be generated on token token0" in out, out

    # With the right PIN the server, still wanting to be enabled, comes up by itself.
    out = tdaemon.sh("configure terminal", token_line(), "end")
    assert "% Token token0 logged in." in out, out
    wait_for(tdaemon.server_enabled, timeout=30, what="the server enabled")
    scep = ScepServer(tdaemon, workdir).listen()
    sw = StrongSwan(workdir, "sw1", scep.url, scep.ca_pem(), 0)
    assert sw.run()[0] == 0

    # The token's store goes away (a token pulled out): within a tick or two the server
    # stops issuing and says why; enrolments meanwhile fail cleanly.
    shutil.move(hsm.tokens, hsm.tokens + ".gone")
    wait_for(lambda: "token token0" in tdaemon.show_server(), what="the server disabled")
    out = tdaemon.show_server()
    assert "Status: disabled, the CA key on token token0 cannot be used" in out, out
    sw2 = StrongSwan(workdir, "sw2", scep.url, scep.ca_pem(), 1)
    rc, out = sw2.run(timeout=60)
    assert rc != 0, out
    assert tdaemon.proc.poll() is None  # no crash

    # Back: it logs in again by itself and issues.
    shutil.move(hsm.tokens + ".gone", hsm.tokens)
    wait_for(tdaemon.server_enabled, timeout=30, what="the server enabled again")
    rc, out = sw2.run()
    assert rc == 0 and "Issued certificate" in out, out
    verify(scep.ca_pem(), sw2.cert)


def test_ec_ca_with_an_rsa_decryption_key_on_the_token(tdaemon, hsm, workdir):
    """An EC CA (P-384, its key in the process) whose SCEP requests are opened, and
    replies signed, by an RSA key on the token (`scep encryption-key`): GetCACert serves
    that key's certificate and the CA's, strongSwan (told which is which) and micromdm
    (given the fingerprint of the RSA certificate) enrol, and every certificate and CRL
    is signed with ECDSA."""
    out = tdaemon.sh("configure terminal", token_line(),
                     "crypto key generate ec keysize 384 label mycs",
                     "crypto key generate rsa label mycs-scep modulus 2048 on token0:", "end")
    assert "% Token token0 logged in." in out, out
    scep = ScepServer(tdaemon, workdir).listen()
    out = tdaemon.create_ca("grant auto", "scep allow-des", "scep encryption-key mycs-scep")
    assert "% SCEP encryption certificate issued (serial 0x2)." in out, out
    assert "Generating 2048 bit RSA keys for SCEP encryption" not in out, out  # it existed
    ca_pem = scep.ca_pem()
    assert "ecdsa-with-SHA256" in cert_field(ca_pem, "-text")

    # GetCACert: the certificate of the SCEP key, as an RA's, then the CA's.
    r = http_request(scep.port, "GET", f"{SCEP_PATH}?operation=GetCACert")
    assert r.status == 200 and r.header("content-type") == "application/x-x509-ca-ra-cert"
    bundle = os.path.join(workdir, "getcacert.p7b")
    with open(bundle, "wb") as f:
        f.write(r.body)
    rc, out = openssl("pkcs7", "-inform", "DER", "-in", bundle, "-print_certs")
    assert rc == 0, out
    pems = re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", out, re.S)
    assert len(pems) == 2, out
    assert pems[1].strip() == open(ca_pem).read().strip()
    enc_pem = os.path.join(workdir, "scep-enc.pem")
    with open(enc_pem, "w") as f:
        f.write(pems[0] + "\n")
    text = cert_field(enc_pem, "-text")
    assert re.search(r"X509v3 Key Usage: critical\s+Digital Signature, Key Encipherment\n",
                     text), text
    assert "CA:FALSE" in text and "Public-Key: (2048 bit)" in text, text
    verify(ca_pem, enc_pem)
    objects = hsm.objects("ca-token")
    assert re.search(r"Private Key Object; RSA\s+label:\s+mycs-scep", objects), objects
    out = tdaemon.show_server()
    assert "SCEP encryption cert fingerprint:" in out and "(key mycs-scep)" in out, out

    # strongSwan encrypts to the RSA certificate, which signs the reply; the certificate
    # it gets chains to the EC CA.
    def strongswan(name, key_index):
        sw = StrongSwan(workdir, name, scep.url, enc_pem, key_index)
        with open(sw.cert, "wb") as f:
            p = subprocess.run(sw.args() + ["--cacert", ca_pem], stdout=f,
                               stderr=subprocess.PIPE, timeout=60)
        assert p.returncode == 0, p.stderr.decode()
        verify(ca_pem, sw.cert)
        assert "ecdsa-with-SHA256" in cert_field(sw.cert, "-text")
        return sw

    sw = strongswan("sw1", 0)

    # micromdm encrypts to every certificate it is given, and trusts replies signed by
    # one of them: the fingerprint picks the RSA one.
    rc, out = openssl("x509", "-in", enc_pem, "-noout", "-fingerprint", "-sha256")
    assert rc == 0, out
    fingerprint = out.strip().split("=", 1)[1].replace(":", "").lower()
    mm = Micromdm(workdir, "m1", scep.url, 1)
    p = subprocess.run(mm.args() + ["-ca-fingerprint", fingerprint], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0 and "pkiStatus=SUCCESS" in p.stdout + p.stderr, p.stdout + p.stderr
    verify(ca_pem, mm.cert)

    # The CRL is the EC key's too.
    serial = cert_serial_of(sw.cert)
    scep.exec(f"revoke {serial:x}")
    crl_pem = os.path.join(workdir, "mycs.crl.pem")
    rc, out = openssl("crl", "-inform", "DER", "-in", tdaemon.path("mycs.crl"), "-out", crl_pem)
    assert rc == 0, out
    rc, out = openssl("crl", "-in", crl_pem, "-CAfile", ca_pem, "-noout", "-text")
    assert rc == 0 and "verify OK" in out and "ecdsa-with-SHA256" in out, out

    # After a restart the same encryption certificate is served, and used.
    tdaemon.sh("write memory")
    tdaemon.restart()
    wait_for(tdaemon.server_enabled, what="the server enabled after the restart")
    scep = ScepServer(tdaemon, workdir).listen()
    r = http_request(scep.port, "GET", f"{SCEP_PATH}?operation=GetCACert")
    with open(bundle, "wb") as f:
        f.write(r.body)
    rc, out = openssl("pkcs7", "-inform", "DER", "-in", bundle, "-print_certs")
    assert pems[0] in out, out
    strongswan("sw2", 2)
