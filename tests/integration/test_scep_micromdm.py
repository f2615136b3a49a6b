"""micromdm's `scepclient` (2.1) against scepterd. The client always encrypts with single
DES (so the server needs `scep allow-des`) and signs with SHA-1, whatever GetCACaps
says; its transactionID derives from the key. On PENDING it sleeps 30 s and sends the
same PKCSReq again (it has no CertPoll): the tests stop it at PENDING and run it again
instead, which sends the same request. With an existing certificate it sends a
RenewalReq signed by that certificate, with the same key."""

import base64
import datetime
import hashlib
import re
import urllib.parse

import pytest

from conftest import openssl, wait_for, write
from scep_helpers import CapsRelay, Micromdm, ScepServer, cert_serial_of, verify


@pytest.fixture
def scep(daemon, workdir):
    return ScepServer(daemon, workdir).listen()


def client(scep, name, key_index):
    return Micromdm(scep.workdir, name, scep.url, key_index)


def enrolled(scep, c, out, at=None):
    assert "pkiStatus=SUCCESS" in out, out
    verify(scep.ca_pem(), c.cert, at)
    return cert_serial_of(c.cert)


def last_serial(scep):
    out = scep.d.show_server()
    m = re.search(r"Last certificate issued serial number: 0x([0-9A-F]+)", out)
    assert m, out
    return int(m.group(1), 16)


def test_grant_auto(scep):
    scep.create_ca("grant auto", "scep allow-des")
    c = client(scep, "m1", 0)
    rc, out = c.run()
    assert rc == 0, out
    serial = enrolled(scep, c, out)
    assert last_serial(scep) == serial
    rc, text = openssl("x509", "-in", c.cert, "-noout", "-subject", "-text")
    assert "CN = m1" in text and "O = Example" in text and "OU = Lab" in text, text
    assert "Public-Key: (2048 bit)" in text, text
    [row] = scep.requests()
    assert row["state"] == "granted"
    assert row["subject"] == "cn=m1,ou=Lab,o=Example,c=US"
    assert row["fingerprint"] == hashlib.md5(c.csr_der()).hexdigest().upper()

    # Run again: the certificate now exists, so the client sends a RenewalReq signed by
    # it, with the same key and so the same transactionID. The database answers: the
    # same certificate, no new request.
    first = open(c.cert).read()
    rc, out = c.run()
    assert rc == 0 and "pkiStatus=SUCCESS" in out, out
    assert open(c.cert).read() == first
    assert len(scep.requests()) == 1


def test_single_des_is_refused_without_allow_des(scep):
    scep.create_ca("grant auto")
    c = client(scep, "m1", 0)
    rc, out = c.run()
    assert rc != 0
    assert "failInfo: badAlg" in out, out
    # Nothing issued or recorded, and the server goes on serving.
    assert scep.requests() == []
    assert last_serial(scep) == 1
    assert scep.d.server_enabled()
    assert scep.get("operation=GetCACaps").status == 200
    scep.d.cs("scep allow-des")
    rc, out = c.run()
    assert rc == 0, out
    enrolled(scep, c, out)


def test_one_time_password(scep):
    scep.create_ca("scep allow-des")
    otp = scep.password()
    first = client(scep, "m1", 0)
    rc, out = first.run(challenge=otp)
    assert rc == 0, out
    enrolled(scep, first, out)
    # The password was used: the same challenge now waits for the operator.
    second = client(scep, "m2", 1)
    second.run_until_pending(challenge=otp)
    rows = {r["subject"]: r["state"] for r in scep.requests()}
    assert rows == {"cn=m1,ou=Lab,o=Example,c=US": "granted",
                    "cn=m2,ou=Lab,o=Example,c=US": "pending"}


def test_manual_grant_then_the_resent_request_gets_the_certificate(scep):
    scep.create_ca("scep allow-des")
    c = client(scep, "m1", 0)
    c.run_until_pending()
    [row] = scep.wait_for_request("pending")
    assert row["subject"] == "cn=m1,ou=Lab,o=Example,c=US"
    assert row["fingerprint"] == hashlib.md5(c.csr_der()).hexdigest().upper()
    # Sent again before the grant: still the one request, still pending.
    c.run_until_pending()
    assert len(scep.requests()) == 1
    scep.exec(f"grant {row['id']}")
    rc, out = c.run()
    assert rc == 0, out
    enrolled(scep, c, out)
    assert [r["state"] for r in scep.requests()] == ["granted"]


def test_rejected_request_fails(scep):
    scep.create_ca("scep allow-des")
    c = client(scep, "m1", 0)
    c.run_until_pending()
    [row] = scep.requests()
    scep.exec(f"reject {row['id']}")
    rc, out = c.run()
    assert rc != 0
    assert "failInfo: badRequest" in out, out
    assert [r["state"] for r in scep.requests()] == ["denied"]


def test_renewal_req_signed_by_the_current_certificate(scep):
    # manual: only the OTP or a renewal is granted
    scep.create_ca("scep allow-des", "lifetime enrollment-request 1")
    c = client(scep, "m1", 0)
    rc, out = c.run(challenge=scep.password())
    assert rc == 0, out
    serials = [enrolled(scep, c, out)]
    # The client renews with the same key, so the same transactionID: while the first
    # request is in the database that answers, with the same certificate. Once the
    # request has expired (or the operator removed it), the RenewalReq is a new
    # request, granted because a valid certificate of this CA signed it.
    scep.d.advance_clock(datetime.timedelta(hours=2))
    wait_for(lambda: scep.requests() == [], what="the request expired")
    rc, out = c.run()
    assert rc == 0, out
    serials.append(enrolled(scep, c, out, at=scep.d.now()))
    [row] = scep.requests()
    assert row["state"] == "granted"
    scep.exec(f"remove {row['id']}")
    rc, out = c.run()
    assert rc == 0, out
    serials.append(enrolled(scep, c, out, at=scep.d.now()))
    assert len(set(serials)) == 3, serials
    assert [r["state"] for r in scep.requests()] == ["granted"]


def test_pki_operation_over_get(scep):
    scep.create_ca("grant auto", "scep allow-des")
    # Without POSTPKIOperation in GetCACaps the client sends PKIOperation with GET
    # (micromdm: URL-safe base64, unescaped, `message=` before `operation=`).
    with CapsRelay(scep.port, drop=("POSTPKIOperation", "SCEPStandard")) as relay:
        c = Micromdm(scep.workdir, "m1", relay.url, 0)
        rc, out = c.run()
    assert rc == 0, out
    enrolled(scep, c, out)
    assert ("GET", "PKIOperation") in relay.operations()
    assert ("POST", "PKIOperation") not in relay.operations()


def test_pki_operation_over_get_with_ios_line_breaks(scep, workdir):
    scep.create_ca("grant auto", "scep allow-des")
    with CapsRelay(scep.port) as relay:
        c = Micromdm(scep.workdir, "m1", relay.url, 0)
        rc, out = c.run()
    assert rc == 0, out
    enrolled(scep, c, out)
    [body] = [b for method, _, b in relay.seen if method == "POST"]
    # The same PKIOperation as IOS would send it: base64 broken every 64 characters,
    # percent-escaped (%0A, %2B, %2F, %3D).
    b64 = base64.b64encode(body).decode()
    wrapped = "".join(b64[i:i + 64] + "\n" for i in range(0, len(b64), 64))
    message = urllib.parse.quote(wrapped, safe="")
    assert "%0A" in message
    r = scep.get(f"operation=PKIOperation&message={message}")
    assert r.status == 200
    assert r.header("Content-Type") == "application/x-pki-message"
    # Open it as a client would: check the CA's signature, decrypt, read the certificate.
    rep = write(f"{workdir}/rep.der", r.body, "wb")
    rc, text = openssl("cms", "-cmsout", "-print", "-inform", "DER", "-in", rep)
    assert rc == 0, text
    assert re.search(r"113733\.1\.9\.3\)\s+set:\s+PRINTABLESTRING:0\b", text), text  # SUCCESS
    env = f"{workdir}/env.der"
    rc, text = openssl("cms", "-verify", "-inform", "DER", "-in", rep, "-CAfile", scep.ca_pem(),
                       "-binary", "-out", env)
    assert rc == 0, text
    inner = f"{workdir}/inner.der"
    rc, text = openssl("cms", "-decrypt", "-provider", "legacy", "-provider", "default",
                       "-inform", "DER", "-in", env, "-inkey", c.key, "-binary", "-out", inner)
    assert rc == 0, text
    rc, text = openssl("pkcs7", "-inform", "DER", "-in", inner, "-print_certs")
    assert rc == 0, text
    issued = open(c.cert).read()
    assert issued.strip() in text, text  # the certificate of the first exchange
    assert len(scep.requests()) == 1
