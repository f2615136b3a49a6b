"""scepterd as a SCEP client of another scepterd on 127.0.0.1: a trustpoint
authenticates the CA (the operator accepts its fingerprint) and enrols; the request waits
for the CA's operator, survives a restart of the client and of the CA, and the certificate
arrives by itself when granted."""

import datetime
import json
import os

import pytest

from conftest import Daemon, cert_validity, openssl, wait_for, write
from scep_helpers import ScepServer
from seed_shapes import assert_guide_shape


def ossl(*args):
    rc, out = openssl(*args)
    assert rc == 0, out
    return out


def fingerprint(pem_path, digest):
    out = ossl("x509", "-in", pem_path, "-noout", "-fingerprint", f"-{digest}")
    hex_digits = out.split("=", 1)[1].strip().replace(":", "")
    return " ".join(hex_digits[i:i + 8] for i in range(0, len(hex_digits), 8))


def trustpoint_state(daemon, name):
    path = daemon.path(f"{name}.tp")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return json.load(f)


@pytest.fixture
def pki_pair(workdir):
    """A root CA (manual grant) serving SCEP, and a second scepterd that is its client."""
    root = Daemon(os.path.join(workdir, "root"))
    root.start()
    client = Daemon(os.path.join(workdir, "client"))
    client.start()
    try:
        scep = ScepServer(root, workdir).listen().create_ca()
        client.sh("configure terminal", "hostname r1", "crypto pki trustpoint up",
                  f"enrollment url http://127.0.0.1:{scep.port}", "subject-name CN=r1, O=Example",
                  "rsakeypair r1key 2048", "end")
        yield scep, client
    finally:
        client.kill()
        root.kill()


def authenticate(client, answer="yes"):
    return client.sh("configure terminal", "crypto pki authenticate up", answer, "end",
                     ok=answer == "yes")


def enroll(client):
    return client.sh("configure terminal", "crypto pki enroll up", "challenge-1", "challenge-1",
                     "no", "no", "yes", "end")


def test_authenticate_asks_for_the_fingerprint_of_the_real_ca(pki_pair):
    scep, client = pki_pair
    ca_pem = scep.ca_pem()
    out = authenticate(client, "no")
    assert f"  Fingerprint MD5: {fingerprint(ca_pem, 'md5')}\n" in out, out
    assert f"  Fingerprint SHA1: {fingerprint(ca_pem, 'sha1')}\n" in out, out
    assert "% Certificate not accepted by user." in out, out
    assert trustpoint_state(client, "up") == {}
    out = authenticate(client)
    assert "Trustpoint CA certificate accepted." in out, out
    status = client.sh("show crypto pki trustpoints up status")
    assert "    Issuing CA authenticated ....... Yes\n" in status, status


def test_enrolment_waits_for_the_operator_across_restarts(pki_pair, workdir):
    scep, client = pki_pair
    authenticate(client)
    out = enroll(client)
    assert "% Certificate request sent to Certificate Authority" in out, out
    assert "% Enrollment in progress..." in out, out
    row = scep.wait_for_request("pending")[0]
    assert "cn=r1" in row["subject"] and "hostname=r1" in row["subject"], row
    status = client.sh("show crypto pki trustpoints up status")
    assert "    Certificate request(s) ..... Pending\n" in status, status

    # Both ends restart while the request waits: nothing is lost or asked twice.
    client.sh("write memory")
    scep.d.sh("write memory")
    client.restart()
    scep.d.restart()
    scep.listen()  # a new port: the trustpoint is told, as an operator would
    client.sh("configure terminal", "crypto pki trustpoint up",
              f"enrollment url http://127.0.0.1:{scep.port}", "end")
    scep.exec(f"grant {row['id']}")
    # The client polls at its retry period (one minute): move its clock on.
    client.advance_clock(datetime.timedelta(minutes=2))
    wait_for(lambda: "certificate" in trustpoint_state(client, "up"), timeout=30,
             what="the certificate at the client")
    assert len(scep.requests()) == 1  # one request, polled; never sent again

    cert = os.path.join(workdir, "r1.pem")
    write(cert, trustpoint_state(client, "up")["certificate"])
    assert ossl("verify", "-CAfile", scep.ca_pem(), cert).strip().endswith("OK")
    assert "r1key" in client.sh("show crypto key mypubkey rsa")
    # The key of the certificate is the trustpoint's.
    key_out = client.sh("show crypto key mypubkey rsa r1key")
    assert "r1key" in key_out
    certs = client.sh("show crypto pki certificates up")

    def block(pem):
        serial = ossl("x509", "-in", pem, "-noout", "-serial").split("=", 1)[1].strip()
        nb, na = cert_validity(open(pem).read())
        return serial, f"{nb:%H:%M:%S} UTC {nb:%b} {nb.day} {nb.year}", \
            f"{na:%H:%M:%S} UTC {na:%b} {na.day} {na.year}"

    serial, start, end = block(cert)
    ca_serial, ca_start, ca_end = block(scep.ca_pem())
    # Line for line, the 15.x / IOS-XE layout: the router's certificate, then the CA's.
    assert certs.split("\n") == [
        "Certificate",
        "  Status: Available",
        f"  Certificate Serial Number (hex): {serial}",
        "  Certificate Usage: General Purpose",
        "  Issuer: ",
        "    cn=mycs",
        "  Subject:",
        "    Name: r1",
        "    hostname=r1",
        "    cn=r1",
        "    o=Example",
        "  Validity Date: ",
        f"    start date: {start}",
        f"    end   date: {end}",
        "  Associated Trustpoints: up ",
        "",
        "CA Certificate",
        "  Status: Available",
        f"  Certificate Serial Number (hex): {ca_serial}",
        "  Certificate Usage: Signature",
        "  Issuer: ",
        "    cn=mycs",
        "  Subject: ",
        "    cn=mycs",
        "  Validity Date: ",
        f"    start date: {ca_start}",
        f"    end   date: {ca_end}",
        "  Associated Trustpoints: up ",
        "",
        "",
    ], certs
    assert client.sh("show crypto pki trustpoints up").split("\n") == [
        "Trustpoint up:",
        "    Subject Name:",
        "    cn=mycs",
        f"          Serial Number (hex): {ca_serial}",
        "    Certificate configured.",
        f"    SCEP URL: http://127.0.0.1:{scep.port}/cgi-bin",
        "    Enrollment Protocol:",
        "      SCEPv1",
        "",
    ]
    status = client.sh("show crypto pki trustpoints up status")
    assert "    Certificate request(s) ..... Yes\n" in status, status


def test_an_unreachable_ca_is_retried_until_it_answers(pki_pair):
    scep, client = pki_pair
    authenticate(client)
    scep.d.sh("write memory")
    scep.d.stop()
    out = enroll(client)
    assert "could not be reached" in out, out
    status = client.sh("show crypto pki trustpoints up status")
    assert "Pending (not yet received by the CA)" in status, status
    assert "Last error ................. cannot reach 127.0.0.1" in status, status
    scep.d.start()
    scep.d.cs("grant auto")
    scep.listen()
    client.sh("configure terminal", "crypto pki trustpoint up",
              f"enrollment url http://127.0.0.1:{scep.port}", "end")
    client.advance_clock(datetime.timedelta(minutes=2))
    wait_for(lambda: "certificate" in trustpoint_state(client, "up"), timeout=30,
             what="the certificate at the client")
    status = client.sh("show crypto pki trustpoints up status")
    assert "Last error" not in status, status


def test_subordinate_ca_end_to_end(workdir):
    """The seed's subordinate CA task: the sub-CA authenticates the root, asks for its CA
    certificate, waits (even under the root's grant auto) until the root's operator
    grants, then issues certificates that chain to the root."""
    from scep_helpers import Micromdm, StrongSwan, http_request, pki_scepca, wait_listening

    root = Daemon(os.path.join(workdir, "root"))
    root.start()
    sub = Daemon(os.path.join(workdir, "sub"))
    sub.start()
    try:
        scep = ScepServer(root, workdir).listen().create_ca("grant auto")
        root_pem = scep.ca_pem()
        sub.sh("configure terminal", "hostname sub", "ip http server", "ip http port 0",
               "ip http bind-address 127.0.0.1", "crypto pki trustpoint subca",
               f"enrollment url http://127.0.0.1:{scep.port}", "exit", "end")
        sub_port = wait_listening(sub)
        out = sub.sh("configure terminal", "crypto pki server subca",
                     "database archive pkcs12 password cisco1234",
                     "issuer-name CN=subca, O=Example", "grant auto", "scep allow-des",
                     "mode sub-cs",
                     "no shutdown", "yes", "end")
        assert f"  Fingerprint MD5: {fingerprint(root_pem, 'md5')}\n" in out, out
        assert "Trustpoint CA certificate accepted." in out, out
        assert "% Certificate request sent to Certificate Authority" in out, out
        status = sub.sh("show crypto pki server subca")
        assert "State: waiting for the superior CA" in status, status
        assert "Server configured in subordinate server mode" in status, status
        assert not os.path.exists(sub.path("subca.p12"))  # written when the certificate comes
        # Not a CA yet: nothing to hand out.
        r = http_request(sub_port, "GET", "/cgi-bin/pkiclient.exe?operation=GetCACert")
        assert r.status == 503, r.status

        # On the root, grant auto does not issue a CA certificate: it waits.
        row = scep.wait_for_request("pending")[0]
        listing = root.sh("crypto pki server mycs info requests")
        sub_section = listing.split("Subordinate CA certificate requests:")[1].split(
            "RA certificate requests:")[0]
        assert row["fingerprint"] in sub_section, listing
        scep.exec(f"grant {row['id']}")
        sub.advance_clock(datetime.timedelta(minutes=2))
        wait_for(lambda: sub.server_enabled("subca"), timeout=30, what="the sub-CA enabled")
        status = sub.sh("show crypto pki server subca")
        assert f"Upper CA cert fingerprint: {fingerprint(root_pem, 'md5')}" in status, status
        # The guide's enabled sub-CA (it grants by hand; this one automatically).
        assert_guide_shape(1798, status, values=False)
        assert os.path.exists(sub.path("subca.p12")), sub.log()  # key and certificate archived

        # Clients see the chain and enrol at the sub-CA; their certificates verify to the root.
        url = f"http://127.0.0.1:{sub_port}/cgi-bin/pkiclient.exe"
        caout = os.path.join(workdir, "bundle.pem")
        rc, out = pki_scepca(url, caout)
        assert rc == 0, out
        assert "Root CA cert" in out and "Sub CA cert" in out, out
        sub_pem = os.path.join(workdir, "subca.pem")
        write(sub_pem, trustpoint_state(sub, "subca")["certificate"])
        client = StrongSwan(workdir, "leaf1", url, sub_pem, key_index=1)
        rc, out = client.run()
        assert rc == 0, out
        # At the sub-CA's clock, which the test moved on to make the trustpoint poll.
        at = str(int(sub.now().timestamp()) + 1)
        verified = ossl("verify", "-attime", at, "-CAfile", root_pem, "-untrusted", sub_pem,
                        client.cert)
        assert verified.strip().endswith("OK"), verified
        # micromdm's scepclient too; revoked at the sub-CA, it is on the sub-CA's CRL.
        mdm = Micromdm(workdir, "leaf2", url, key_index=2)
        rc, out = mdm.run()
        assert rc == 0, out + sub.log()[-3000:]
        ossl("verify", "-attime", at, "-CAfile", root_pem, "-untrusted", sub_pem, mdm.cert)
        leaf2_serial = ossl("x509", "-in", mdm.cert, "-noout", "-serial").split("=")[1].strip()
        sub.sh(f"crypto pki server subca revoke 0x{leaf2_serial}")
        text = ossl("x509", "-in", sub_pem, "-noout", "-text")
        assert "CA:TRUE" in text and "Certificate Sign, CRL Sign" in text, text
        # The sub-CA's CRL is its own, signed by its key.
        r = http_request(sub_port, "GET", "/cgi-bin/pkiclient.exe?operation=GetCRL")
        assert r.status == 200, r.status
        crl = os.path.join(workdir, "sub.crl")
        write(crl, r.body, "wb")
        chain = os.path.join(workdir, "chain.pem")
        with open(root_pem) as a, open(sub_pem) as b:
            write(chain, a.read() + b.read())
        out = ossl("crl", "-inform", "DER", "-in", crl, "-CAfile", chain, "-noout", "-text")
        assert f"Serial Number: {leaf2_serial}" in out, out
        assert "verify OK" in out, out

        # A restart keeps it a working sub-CA with its chain.
        sub.sh("write memory")
        sub.restart()
        wait_for(lambda: sub.server_enabled("subca"), timeout=30, what="the sub-CA enabled")
        status = sub.sh("show crypto pki server subca")
        assert "Server configured in subordinate server mode" in status, status + sub.log()
        assert f"Upper CA cert fingerprint: {fingerprint(root_pem, 'md5')}" in status, status

        # The sub-CA's certificate, revoked on the root, is on the root's CRL; at its next
        # CRL check (revocation-check crl, hourly) the sub-CA finds it there and stops.
        sub_serial = ossl("x509", "-in", sub_pem, "-noout", "-serial").split("=")[1].strip()
        scep.exec(f"revoke 0x{sub_serial}")
        r = http_request(scep.port, "GET", "/cgi-bin/pkiclient.exe?operation=GetCRL")
        root_crl = write(os.path.join(workdir, "root.crl"), r.body, "wb")
        listed = ossl("crl", "-inform", "DER", "-in", root_crl, "-noout", "-text")
        assert f"Serial Number: {sub_serial}" in listed, listed
        sub.advance_clock(datetime.timedelta(minutes=61))
        wait_for(lambda: not sub.server_enabled("subca"), timeout=30, what="the sub-CA stopped")
        status = sub.sh("show crypto pki server subca")
        assert "The superior CA revoked this server's certificate" in status, status
        port = wait_listening(sub)  # `ip http port 0`: another port since the restart
        r = http_request(port, "GET", "/cgi-bin/pkiclient.exe?operation=GetCACert")
        assert r.status == 503, r.status
    finally:
        sub.kill()
        root.kill()
