"""Manual enrollment: PKCS#10 requests pasted at the terminal or read from a file, the
request database (`info requests`), grant/reject/remove, the grant policies, one-time
passwords, request expiry, and what the issued certificates contain."""

import datetime
import hashlib
import os
import re
import subprocess

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtensionOID

from conftest import (openssl, make_csr, make_otp_csr, csr_der, extract_certificate,
                      extract_certificates, cert_serial, cert_validity, wait_for, write)


def load_cert(pem):
    return x509.load_pem_x509_certificate(pem.encode())


def load_csr(pem):
    return x509.load_pem_x509_csr(pem.encode())


def verify(daemon, cert_pem, workdir, at=None):
    path = write(os.path.join(workdir, "leaf.pem"), cert_pem)
    when = ["-attime", str(int(at.timestamp()))] if at else []
    rc, out = openssl("verify", *when, "-CAfile", daemon.ca_pem_file(), path)
    assert rc == 0 and "OK" in out, out


def md5_upper(data):
    return hashlib.md5(data).hexdigest().upper()


def otp_of(out):
    m = re.search(r"% New one-time enrollment password: (\S+)", out)
    assert m, out
    return m.group(1)


@pytest.fixture
def manual_ca(daemon):
    daemon.create_ca()
    return daemon


@pytest.fixture
def auto_ca(daemon):
    daemon.create_ca("grant auto")
    return daemon


def test_manual_request_pending_then_granted(manual_ca, workdir):
    d = manual_ca
    csr = make_csr(workdir, "r1", "/C=US/O=Example/CN=r1", key="shared", extra=[
        "-addext", "subjectAltName=DNS:r1.example.com,IP:192.0.2.1",
        "-addext", "keyUsage=critical,digitalSignature,keyEncipherment",
        "-addext", "extendedKeyUsage=serverAuth,clientAuth"])
    out = d.submit(csr, "pem")
    assert "% Enter Base64 encoded or PEM formatted PKCS10 enrollment request." in out
    assert '% End with a blank line or "quit" on a line by itself.' in out
    assert "% Enrollment request pending, reqId=1" in out
    assert "BEGIN CERTIFICATE" not in out

    table = d.sh("crypto pki server mycs info requests")
    assert table.startswith("Enrollment Request Database:\n")
    assert "Router certificates requests:\nReqID  State      Fingerprint" in table
    rows = d.requests()
    assert rows == [{"id": 1, "state": "pending", "fingerprint": md5_upper(csr_der(csr)),
                     "subject": "cn=r1,o=Example,c=US"}]
    # the fingerprint is what `openssl req -outform DER | openssl dgst -md5` says
    rc, der = subprocess.getstatusoutput(
        f"openssl req -in {workdir}/r1.csr -outform DER | openssl dgst -md5 -r")
    assert der.split()[0].upper() == rows[0]["fingerprint"]
    assert d.sh("show crypto pki server mycs requests") == table

    before = d.now()
    out = d.sh("crypto pki server mycs grant 1")
    after = d.now()
    assert "% Granted certificate for request 1:" in out
    pem = extract_certificate(out)
    verify(d, pem, workdir)
    assert d.requests()[0]["state"] == "granted"
    assert "Last certificate issued serial number: 0x2" in d.show_server()

    cert, req = load_cert(pem), load_csr(csr)
    assert cert.serial_number == 2
    assert cert.subject.public_bytes() == req.subject.public_bytes()  # byte-identical
    assert cert.public_key().public_numbers() == req.public_key().public_numbers()
    ext = {e.oid: e for e in cert.extensions}
    for oid in (ExtensionOID.SUBJECT_ALTERNATIVE_NAME, ExtensionOID.KEY_USAGE,
                ExtensionOID.EXTENDED_KEY_USAGE):
        assert ext[oid].value == req.extensions.get_extension_for_oid(oid).value, oid
        assert ext[oid].critical == req.extensions.get_extension_for_oid(oid).critical, oid
    ca = load_cert(open(d.ca_pem_file()).read())
    ski = ca.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_KEY_IDENTIFIER).value
    aki = ext[ExtensionOID.AUTHORITY_KEY_IDENTIFIER].value
    assert aki.key_identifier == ski.digest
    assert ExtensionOID.SUBJECT_KEY_IDENTIFIER in ext
    assert ExtensionOID.CRL_DISTRIBUTION_POINTS not in ext  # no cdp-url configured
    # The profile decides (docs/policy.md): a critical CA:FALSE, whatever the request says.
    assert ext[ExtensionOID.BASIC_CONSTRAINTS].critical
    assert ext[ExtensionOID.BASIC_CONSTRAINTS].value.ca is False
    assert cert.signature_hash_algorithm.name == "sha256"
    nb, na = cert_validity(pem)
    assert na - nb == datetime.timedelta(days=365)
    # valid from the grant (the server clock shows whole seconds)
    assert before - datetime.timedelta(seconds=1) <= nb <= after + datetime.timedelta(seconds=1)

    # granting it again is refused
    out = d.sh("crypto pki server mycs grant 1", ok=False)
    assert "% Request 1 is granted; only pending requests can be granted." in out


@pytest.mark.parametrize("curve,bits", [("prime256v1", 256), ("secp384r1", 384)])
def test_ec_requests_in_base64(auto_ca, workdir, curve, bits):
    csr = make_csr(workdir, "ec", "/C=DE/ST=Berlin/L=Berlin/O=Example GmbH/OU=Net/CN=ec1",
                   key="ec:" + curve)
    out = auto_ca.submit(csr, "base64", via="lines")
    assert "% Granted certificate:" in out
    assert "BEGIN CERTIFICATE" not in out  # base64 output, as IOS prints it
    pem = extract_certificate(out)
    verify(auto_ca, pem, workdir)
    cert = load_cert(pem)
    assert cert.public_key().key_size == bits
    assert cert.subject.public_bytes() == load_csr(csr).subject.public_bytes()
    rows = auto_ca.requests()
    assert rows[0]["subject"] == "cn=ec1,ou=Net,o=Example GmbH,l=Berlin,st=Berlin,c=DE"
    assert rows[0]["state"] == "granted"


def test_paste_bare_base64_and_pem_output(auto_ca, workdir):
    csr = make_csr(workdir, "b", "/CN=bare", key="ec:prime256v1")
    out = auto_ca.submit(csr, "pem", via="base64")
    assert "-----BEGIN CERTIFICATE-----" in out
    verify(auto_ca, extract_certificate(out), workdir)
    # "quit" ends the paste too
    csr2 = make_csr(workdir, "q", "/CN=quit", key="ec:prime256v1")
    out = auto_ca.sh("crypto pki server mycs request pkcs10 terminal",
                     *csr2.strip().splitlines(), "quit")
    assert "% Granted certificate:" in out


def test_multi_valued_rdn(auto_ca, workdir):
    csr = make_csr(workdir, "mv", "/C=US/O=Example/CN=r7+serialNumber=FTX1234",
                   key="ec:prime256v1", extra=["-multivalue-rdn"])
    out = auto_ca.submit(csr)
    cert = load_cert(extract_certificate(out))
    assert cert.subject.public_bytes() == load_csr(csr).subject.public_bytes()
    assert len(cert.subject.rdns) == 3 and len(cert.subject.rdns[2]) == 2
    subject = auto_ca.requests()[0]["subject"]
    assert subject.endswith(",o=Example,c=US")
    assert sorted(subject.split(",")[0].split("+")) == ["cn=r7", "serialNumber=FTX1234"]


def test_request_pkcs10_url(auto_ca, workdir):
    csr = make_csr(workdir, "file", "/CN=fromfile", key="ec:prime256v1")
    write(auto_ca.path("req.csr"), csr)
    out = auto_ca.sh("crypto pki server mycs request pkcs10 url nvram:req.csr pem")
    verify(auto_ca, extract_certificate(out), workdir)
    out = auto_ca.sh(f"crypto pki server mycs request pkcs10 url {workdir}/file.csr")
    assert "% Granted certificate:" in out
    # As on IOS, the URL may come without the `url` keyword (`terminal` stays the paste:
    # test_paste_bare_base64_and_pem_output).
    out = auto_ca.sh(f"crypto pki server mycs request pkcs10 {workdir}/file.csr pem")
    assert "% Granted certificate:" in out and "-----BEGIN CERTIFICATE-----" in out, out
    out = auto_ca.sh("crypto pki server mycs request pkcs10 url nvram:missing.csr", ok=False)
    assert out.startswith("% ")
    assert len(auto_ca.requests()) == 3


def test_serials_increase_and_validity_follows_lifetime(daemon, workdir):
    daemon.create_ca("grant auto", "lifetime certificate 10")
    serials = []
    for i in range(3):
        csr = make_csr(workdir, f"s{i}", f"/CN=s{i}", key="ec:prime256v1")
        pem = extract_certificate(daemon.submit(csr))
        serials.append(cert_serial(pem))
        nb, na = cert_validity(pem)
        assert na - nb == datetime.timedelta(days=10)
    assert serials == [2, 3, 4]
    assert "Last certificate issued serial number: 0x4" in daemon.show_server()
    listing = daemon.sh("show crypto pki server mycs certificates")
    assert listing.startswith("Serial Issued date")
    assert re.search(r"(?m)^4\s+.*cn=s2$", listing), listing


def test_certificates_never_outlive_the_ca(daemon, workdir):
    daemon.create_ca("grant auto", "lifetime certificate 30", "lifetime ca-certificate 60")
    ca_end = cert_validity(open(daemon.ca_pem_file()).read())[1]
    daemon.set_clock(ca_end - datetime.timedelta(days=10))
    csr = make_csr(workdir, "late", "/CN=late", key="ec:prime256v1")
    pem = extract_certificate(daemon.submit(csr))
    assert cert_validity(pem)[1] == ca_end
    verify(daemon, pem, workdir, at=daemon.now())


def test_nothing_is_issued_after_the_ca_expires(manual_ca, workdir):
    d = manual_ca
    d.submit(make_csr(workdir, "p", "/CN=p", key="ec:prime256v1"))
    ca_end = cert_validity(open(d.ca_pem_file()).read())[1]
    d.set_clock(ca_end + datetime.timedelta(hours=1))
    out = d.sh("crypto pki server mycs grant 1", ok=False)
    assert "% The CA certificate expired at " in out
    # Still pending, or already removed by the server's timer: the clock is years past
    # the request's `lifetime enrollment-request`. Never granted.
    assert all(r["state"] == "pending" for r in d.requests()), d.requests()
    assert "Last certificate issued serial number: 0x1" in d.show_server()


def test_cdp_url_goes_into_certificates(daemon, workdir):
    url = "http://ca1.example.com/cgi-bin/pkiclient.exe?operation=GetCRL"
    daemon.create_ca("grant auto", f"cdp-url {url}", "hash sha384")
    csr = make_csr(workdir, "cdp", "/CN=cdp", key="ec:prime256v1")
    cert = load_cert(extract_certificate(daemon.submit(csr)))
    cdp = cert.extensions.get_extension_for_oid(ExtensionOID.CRL_DISTRIBUTION_POINTS).value
    assert [n.value for n in cdp[0].full_name] == [url]
    assert cert.signature_hash_algorithm.name == "sha384"


def test_eku_goes_into_certificates(daemon, workdir):
    daemon.create_ca("grant auto", "eku server-auth client-auth")
    assert "\n eku server-auth client-auth\n" in daemon.sh("show running-config")
    csr = make_csr(workdir, "eku", "/CN=eku", key="ec:prime256v1")
    pem = extract_certificate(daemon.submit(csr))
    verify(daemon, pem, workdir)
    rc, text = openssl("x509", "-noout", "-text", input=pem.encode())
    assert rc == 0, text
    assert re.search(r"X509v3 Extended Key Usage: *\n *TLS Web Server Authentication, "
                     r"TLS Web Client Authentication\n", text), text


def test_reject_remove_and_all_variants(manual_ca, workdir):
    d = manual_ca
    for i in range(1, 6):
        csr = make_csr(workdir, f"m{i}", f"/CN=m{i}", key="ec:prime256v1")
        assert f"reqId={i}" in d.submit(csr, "base64")
    d.sh("crypto pki server mycs reject 2")
    states = {r["id"]: r["state"] for r in d.requests()}
    assert states == {1: "pending", 2: "denied", 3: "pending", 4: "pending", 5: "pending"}
    out = d.sh("crypto pki server mycs grant 2", ok=False)
    assert "only pending requests can be granted" in out
    d.sh("crypto pki server mycs remove 3")
    assert [r["id"] for r in d.requests()] == [5, 4, 2, 1]  # newest first
    out = d.sh("crypto pki server mycs remove 3", ok=False)
    assert out.startswith("% ")
    out = d.sh("crypto pki server mycs grant 99", ok=False)
    assert out.startswith("% ")

    out = d.sh("crypto pki server mycs grant all")
    certs = extract_certificates(out)
    assert sorted(cert_serial(c) for c in certs) == [2, 3, 4]
    assert "% Granted certificate for request 1:" in out
    assert "BEGIN CERTIFICATE" not in out  # submitted in base64: shown in base64
    states = {r["id"]: r["state"] for r in d.requests()}
    assert states == {1: "granted", 2: "denied", 4: "granted", 5: "granted"}

    for i in range(6, 8):
        csr = make_csr(workdir, f"m{i}", f"/CN=m{i}", key="ec:prime256v1")
        assert f"reqId={i}" in d.submit(csr)
    d.sh("crypto pki server mycs reject all")
    states = {r["id"]: r["state"] for r in d.requests()}
    assert states[6] == states[7] == "denied" and states[1] == "granted"
    assert d.sh("crypto pki server mycs grant all").strip() == ""
    d.sh("crypto pki server mycs remove all")
    assert d.requests() == []
    # request IDs are never reused
    csr = make_csr(workdir, "m8", "/CN=m8", key="ec:prime256v1")
    assert "reqId=8" in d.submit(csr)


def test_grant_none_refuses_and_grant_auto_grants(daemon, workdir):
    daemon.create_ca("grant none")
    assert "Granting mode is: none" in daemon.show_server()
    csr = make_csr(workdir, "n", "/CN=n", key="ec:prime256v1")
    out = daemon.submit(csr, ok=False)
    assert "% All requests are rejected (grant none)." in out
    assert daemon.requests() == []  # refused requests are not stored
    daemon.cs("grant auto")
    out = daemon.submit(csr)
    assert "% Granted certificate:" in out
    assert daemon.requests()[0] == {**daemon.requests()[0], "id": 1, "state": "granted"}
    daemon.cs("no grant")
    assert "reqId=2" in daemon.submit(csr)
    assert "Granting mode is: manual" in daemon.show_server()


def test_one_time_password(manual_ca, workdir):
    d = manual_ca
    out = d.sh("crypto pki server mycs password generate 5")
    otp = otp_of(out)
    assert "valid for 5 minutes" in out
    # a wrong password is simply not a password: the request waits for the operator
    assert "pending" in d.submit(make_otp_csr(workdir, "w", "wrong", "NOT" + otp))
    out = d.submit(make_otp_csr(workdir, "o1", "otp1", otp))
    assert "% Granted certificate:" in out
    verify(d, extract_certificate(out), workdir)
    # one time only
    out = d.submit(make_otp_csr(workdir, "o2", "otp2", otp))
    assert "% Enrollment request pending, reqId=3" in out
    # a new password replaces the old one
    first = otp_of(d.sh("crypto pki server mycs password generate"))
    second = otp_of(d.sh("crypto pki server mycs password generate"))
    assert first != second
    assert "pending" in d.submit(make_otp_csr(workdir, "o3", "otp3", first))
    assert "Granted" in d.submit(make_otp_csr(workdir, "o4", "otp4", second))


def test_expired_one_time_password(manual_ca, workdir):
    d = manual_ca
    otp = otp_of(d.sh("crypto pki server mycs password generate 1"))
    d.advance_clock(datetime.timedelta(minutes=2))
    out = d.submit(make_otp_csr(workdir, "late", "late", otp))
    assert "% Enrollment request pending" in out


def test_password_generate_range(manual_ca):
    for bad in ("0", "1441"):
        out = manual_ca.sh(f"crypto pki server mycs password generate {bad}", ok=False)
        assert "% Invalid input detected at '^' marker." in out


def test_pending_requests_expire(daemon, workdir):
    daemon.create_ca("lifetime enrollment-request 1")
    csr = make_csr(workdir, "e", "/CN=e", key="ec:prime256v1")
    daemon.submit(csr)
    daemon.advance_clock(datetime.timedelta(minutes=30))
    daemon.submit(make_csr(workdir, "f", "/CN=f", key="ec:prime256v1"))
    assert len(daemon.requests()) == 2
    daemon.advance_clock(datetime.timedelta(minutes=31))
    # the first one is older than an hour now; the second is not
    wait_for(lambda: [r["id"] for r in daemon.requests()] == [2], what="request 1 expired")
    daemon.advance_clock(datetime.timedelta(hours=2))
    wait_for(lambda: daemon.requests() == [], what="request 2 expired")


def corrupt_signature(workdir):
    """A CSR whose signature no longer matches (one byte of the signature flipped)."""
    make_csr(workdir, "sig", "/CN=sig", key="rsa:1024")
    der = bytearray(subprocess.run(["openssl", "req", "-in", f"{workdir}/sig.csr", "-outform",
                                    "DER"], check=True, capture_output=True).stdout)
    der[-5] ^= 0x01
    import base64
    return base64.b64encode(bytes(der)).decode()


@pytest.mark.parametrize("kind", ["garbage", "certificate", "bad-signature", "rsa-512",
                                  "truncated"])
def test_bad_requests_are_refused_and_not_recorded(manual_ca, workdir, kind):
    d = manual_ca
    good = make_csr(workdir, "g", "/CN=g", key="ec:prime256v1")
    d.submit(good)
    before = d.requests()
    if kind == "garbage":
        text = "this is not base64 !!!\n"
    elif kind == "certificate":
        text = open(d.ca_pem_file()).read()
    elif kind == "bad-signature":
        text = corrupt_signature(workdir)
    elif kind == "rsa-512":
        key = os.path.join(workdir, "k512.pem")
        subprocess.run(["openssl", "genrsa", "-out", key, "512"], check=True,
                       capture_output=True)
        text = subprocess.run(["openssl", "req", "-new", "-key", key, "-subj", "/CN=small"],
                              check=True, capture_output=True, text=True).stdout
    else:
        body = "".join(l for l in good.splitlines() if not l.startswith("-----"))
        text = body[:len(body) // 2] + "\n"
    out = d.submit(text, ok=False)
    lines = [l for l in out.splitlines() if l.startswith("% ") and "Enter" not in l
             and "End with" not in l]
    assert lines, out
    if kind == "rsa-512":
        assert "512 bits" in out
    assert "reqId" not in out
    assert d.requests() == before
    # the next good request gets the next ID: nothing was used up
    assert "reqId=2" in d.submit(make_csr(workdir, "g2", "/CN=g2", key="ec:prime256v1"))


def test_request_on_disabled_or_unknown_server(daemon, workdir):
    csr = make_csr(workdir, "x", "/CN=x", key="ec:prime256v1")
    out = daemon.submit(csr, label="nosuch", ok=False)
    assert "% Certificate server nosuch does not exist." in out
    daemon.cs()  # exists but never enabled
    out = daemon.submit(csr, ok=False)
    assert "not enabled" in out
