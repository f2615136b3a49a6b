"""strongSwan `pki --scep` and `pki --scepca` against scepterd: every cipher and digest
it offers with RSA-2048 keys, one-time passwords, manual granting while it polls
(CertPoll every second), rejection, and renewal with the old certificate and key."""

import re

import pytest

from conftest import openssl, wait_for
from scep_helpers import (CapsRelay, ScepServer, StrongSwan, cert_serial_of, pki_scepca,
                          public_key_of, verify)


@pytest.fixture
def scep(daemon, workdir):
    return ScepServer(daemon, workdir).listen()


def client(scep, name, key_index, dn=None):
    return StrongSwan(scep.workdir, name, scep.url, scep.ca_pem(), key_index, dn)


def enrolled(scep, c, rc, out):
    assert rc == 0, out
    assert "Issued certificate" in out, out
    verify(scep.ca_pem(), c.cert)
    return cert_serial_of(c.cert)


def states(scep):
    return {r["subject"]: r["state"] for r in scep.requests()}


def test_scepca_fetches_the_ca_certificate(scep, workdir):
    scep.create_ca()
    rc, out = pki_scepca(scep.url, f"{workdir}/fetched.pem")
    assert rc == 0, out
    assert 'Root CA cert "CN=mycs"' in out, out
    with open(f"{workdir}/fetched.pem") as f, open(scep.ca_pem()) as g:
        assert f.read().strip() == g.read().strip()


@pytest.mark.parametrize("cipher,digest", [("aes", "sha256"), ("aes", "sha1"),
                                           ("des3", "sha256"), ("des3", "sha1")])
def test_grant_auto(scep, cipher, digest):
    scep.create_ca("grant auto")
    c = client(scep, "sw1", 0)
    rc, out = c.run(cipher=cipher, digest=digest)
    enrolled(scep, c, rc, out)
    rc, text = openssl("x509", "-in", c.cert, "-noout", "-text")
    assert "Subject: C = US, O = Example, CN = sw1" in text, text
    assert "Public-Key: (2048 bit)" in text
    assert public_key_of(c.cert) == public_key_of(c.key, private=True)
    [row] = scep.requests()
    assert row["state"] == "granted" and row["subject"] == "cn=sw1,o=Example,c=US"
    assert re.fullmatch(r"[0-9A-F]{32}", row["fingerprint"])


def test_one_time_password(scep):
    scep.create_ca()  # manual
    otp = scep.password()
    first = client(scep, "sw1", 0)
    enrolled(scep, first, *first.run(password=otp))
    second = client(scep, "sw2", 1)
    rc, out = second.run(password=otp, poll=1)
    assert rc != 0 and "pending" in out, out
    assert states(scep) == {"cn=sw1,o=Example,c=US": "granted",
                            "cn=sw2,o=Example,c=US": "pending"}
    # A wrong password is no password either.
    third = client(scep, "sw3", 2)
    rc, out = third.run(password="0123456789ABCDEF", poll=1)
    assert rc != 0 and "pending" in out, out


def test_manual_grant_while_the_client_polls(scep):
    scep.create_ca()
    with CapsRelay(scep.port) as relay:
        c = StrongSwan(scep.workdir, "sw1", relay.url, scep.ca_pem(), 0).start(poll=30)
        [row] = scep.wait_for_request("pending")
        # The PKCSReq and at least one CertPoll before the grant.
        wait_for(lambda: [m for m, _, _ in relay.seen].count("POST") >= 2, what="a CertPoll")
        assert row["subject"] == "cn=sw1,o=Example,c=US"
        out = scep.d.show_server()
        assert "Granting mode is: manual" in out
        assert "Last certificate issued serial number: 0x1" in out, out
        scep.exec(f"grant {row['id']}")
        rc, out = c.finish()
    serial = enrolled(scep, c, rc, out)
    assert "SCEP request pending" in out, out
    # One PKCSReq, then CertPoll (GetCertInitial) until the grant.
    types = relay.message_types()
    assert types[0] == "19" and set(types[1:]) == {"20"}, types
    assert [r["state"] for r in scep.requests()] == ["granted"]
    assert f"Last certificate issued serial number: 0x{serial:X}" in scep.d.show_server()


def test_rejected_while_the_client_polls(scep):
    scep.create_ca()
    c = client(scep, "sw1", 0).start(poll=30)
    [row] = scep.wait_for_request("pending")
    scep.exec(f"reject {row['id']}")
    rc, out = c.finish()
    assert rc != 0
    assert "badRequest" in out, out
    assert open(c.cert).read() == ""
    assert states(scep) == {"cn=sw1,o=Example,c=US": "denied"}


def test_renewal_with_the_old_certificate_and_key(scep):
    scep.create_ca()  # manual: the renewal is authorised by the certificate that signs it
    old = client(scep, "sw1", 0)
    old_serial = enrolled(scep, old, *old.run(password=scep.password()))
    new = client(scep, "sw1-new", 1, dn="C=US, O=Example, CN=sw1")
    new_serial = enrolled(scep, new, *new.run(old=old, poll=5))
    assert new_serial != old_serial
    assert public_key_of(new.cert) == public_key_of(new.key, private=True)
    assert public_key_of(new.cert) != public_key_of(old.cert)
    assert [r["state"] for r in scep.requests()] == ["granted", "granted"]

    # strongSwan renews with a RenewalReq (17); signed by a revoked certificate it is
    # refused.
    scep.exec(f"revoke {new_serial}")
    again = client(scep, "sw1-again", 2, dn="C=US, O=Example, CN=sw1")
    rc, out = again.run(old=new, poll=1)
    assert rc != 0 and "badRequest" in out, out
    assert open(again.cert).read() == ""
    # refused requests are not stored (docs/policy.md)
    assert [r["state"] for r in scep.requests()] == ["granted", "granted"]
