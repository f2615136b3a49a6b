"""EST (RFC 7030) on the HTTPS listener with real clients: strongSwan's `pki --estca` and
`pki --est` (the only packaged EST client; it reads one-line base64 and an exact
HTTP/1.1 status line only), and curl + openssl for csrattrs, client-certificate
re-enrolment and the refusals. The HTTPS certificate is the one scepterd issues itself
from its CA for 127.0.0.1."""

import base64
import email
import email.policy
import os
import re
import socket
import subprocess

import pytest

from conftest import LABEL, openssl, make_csr, wait_for, write
from scep_helpers import ScepServer, connection_refused


def secure_port(daemon):
    out = daemon.sh("show ip http server status")
    m = re.search(r"HTTP secure server port: (\d+)\n", out)
    return int(m.group(1)) if m else None


@pytest.fixture
def est(daemon, workdir):
    s = ScepServer(daemon, workdir).listen()
    s.create_ca("est")
    daemon.sh("configure terminal", "ip http secure-port 0", "ip http secure-server", "end")
    s.https = wait_for(lambda: secure_port(daemon), timeout=30, what="HTTPS listener")
    s.base = f"https://127.0.0.1:{s.https}/.well-known/est"
    return s


def curl(*args, ok=True):
    """curl -s with the status code on the last line: (status, body)."""
    r = subprocess.run(["curl", "-s", "-S", "-w", "\n%{http_code}", *args], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 or not ok, r.stderr
    body, _, status = r.stdout.rpartition("\n")
    return int(status or 0), body


def der_csr_b64(workdir, name, subject, key="ec:prime256v1"):
    make_csr(workdir, name, subject, key=key)
    der = subprocess.run(["openssl", "req", "-in", os.path.join(workdir, name + ".csr"),
                          "-outform", "DER"], check=True, capture_output=True).stdout
    return write(os.path.join(workdir, name + ".b64"), base64.encodebytes(der).decode())


def swan_request(workdir, name, dn, san=None):
    """strongSwan `pki --gen` (an ECDSA P-256 key) and `pki --req` for `dn`: (key path, DER
    request path)."""
    key = os.path.join(workdir, name + ".key.der")
    with open(key, "wb") as out:
        subprocess.run(["pki", "--gen", "--type", "ecdsa", "--size", "256", "--outform", "der"],
                       check=True, stdout=out)
    req = os.path.join(workdir, name + ".req.der")
    with open(req, "wb") as out:
        subprocess.run(["pki", "--req", "--in", key, "--type", "ecdsa", "--dn", dn,
                        *(["--san", san] if san else []), "--outform", "der"], check=True,
                       stdout=out)
    return key, req


def swan_est(s, *args, timeout=60):
    """`pki --est` against scepterd: the completed process (stdout as bytes)."""
    return subprocess.run(["pki", "--est", "--url", f"https://127.0.0.1:{s.https}", "--cacert",
                           s.ca_pem(), *args, "--outform", "pem"], capture_output=True,
                          timeout=timeout)


def pkcs7_certs(workdir, name, b64_body):
    """The certificates of a base64 certs-only PKCS#7, as PEM text."""
    der = os.path.join(workdir, name + ".p7")
    with open(der, "wb") as f:
        f.write(base64.b64decode(b64_body))
    rc, out = openssl("pkcs7", "-inform", "DER", "-in", der, "-print_certs")
    assert rc == 0, out
    return out


def test_strongswan_estca_and_est_with_the_one_time_password(est, workdir):
    ca_out = os.path.join(workdir, "estca.pem")
    r = subprocess.run(["pki", "--estca", "--url", f"https://127.0.0.1:{est.https}",
                        "--cacert", est.ca_pem(), "--caout", ca_out, "--outform", "pem"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    rc, a = openssl("x509", "-in", ca_out, "-noout", "-fingerprint")
    rc, b = openssl("x509", "-in", est.ca_pem(), "-noout", "-fingerprint")
    assert a == b

    dn, san = "C=US, O=scepterd, CN=estclient1", "estclient1.example.test"
    key, req = swan_request(workdir, "cl", dn, san)
    cert = os.path.join(workdir, "cl.crt.pem")
    r = swan_est(est, "--in", req, "--userpass", f"estuser:{est.password()}")
    assert r.returncode == 0, r.stdout + r.stderr
    write(cert, r.stdout.decode())
    rc, text = openssl("x509", "-in", cert, "-noout", "-subject", "-ext", "subjectAltName")
    assert "CN = estclient1" in text and "DNS:estclient1.example.test" in text, text
    rc, out = openssl("verify", "-CAfile", est.ca_pem(), cert)
    assert rc == 0, out

    # Re-enrolment with the certificate in the TLS handshake: strongSwan then uses
    # simplereenroll, and `grant auto renewal` issues it without the operator.
    _, req2 = swan_request(workdir, "cl2", dn, san)
    r = swan_est(est, "--in", req2, "--cert", cert, "--key", key)
    assert r.returncode == 0, r.stdout + r.stderr
    assert b"BEGIN CERTIFICATE" in r.stdout


def test_strongswan_polls_through_the_manual_grant(est, workdir):
    """With `no grant auto renewal`, a re-enrolment waits for the operator: 202 with
    Retry-After while it waits, then the certificate once granted."""
    est.d.sh("configure terminal", f"crypto pki server {LABEL}", "est retry-after 10",
             "no grant auto renewal", "end")
    key, first_req = swan_request(workdir, "first", "CN=first")
    r = swan_est(est, "--in", first_req, "--userpass", f"u:{est.password()}")
    assert r.returncode == 0, r.stderr
    first = write(os.path.join(workdir, "first.pem"), r.stdout.decode())

    _, renew_req = swan_request(workdir, "renew", "CN=first")
    client = subprocess.Popen(["pki", "--est", "--url", f"https://127.0.0.1:{est.https}",
                               "--cacert", est.ca_pem(), "--in", renew_req, "--cert", first,
                               "--key", key, "--interval", "1", "--maxpolltime", "60",
                               "--outform", "pem"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        rows = est.wait_for_request("pending")
        est.exec(f"grant {rows[0]['id']}")
        out, err = client.communicate(timeout=60)
    finally:
        client.kill()
    assert client.returncode == 0, err
    assert b"BEGIN CERTIFICATE" in out
    assert b"EST request pending" in out + err


def test_curl_openssl_flows_and_refusals(est, workdir):
    ca = est.ca_pem()
    status, body = curl("--cacert", ca, f"{est.base}/cacerts")
    assert status == 200 and "\n" not in body.strip()
    assert "BEGIN CERTIFICATE" in pkcs7_certs(workdir, "cacerts", body)

    status, body = curl("--cacert", ca, f"{est.base}/csrattrs")
    assert status == 200
    attrs = write(os.path.join(workdir, "attrs.der"), "")
    with open(attrs, "wb") as f:
        f.write(base64.b64decode(body))
    rc, out = openssl("asn1parse", "-inform", "DER", "-in", attrs)
    assert "sha256WithRSAEncryption" in out and "ecdsa-with-SHA256" in out, out

    # Unauthenticated: 401 with a Basic challenge, and nothing stored.
    req = der_csr_b64(workdir, "c", "/CN=curlclient")
    hdrs = os.path.join(workdir, "h.txt")
    status, body = curl("--cacert", ca, "-D", hdrs, "-H", "Content-Type: application/pkcs10",
                        "--data-binary", f"@{req}", f"{est.base}/simpleenroll")
    assert status == 401, body
    assert re.search(r"(?i)www-authenticate: Basic realm=", open(hdrs).read())
    status, body = curl("--cacert", ca, "-u", "x:wrong", "-H", "Content-Type: application/pkcs10",
                        "--data-binary", f"@{req}", f"{est.base}/simpleenroll")
    assert status == 401, body
    assert est.requests() == []

    # The one-time password as the Basic password, a wrapped base64 body with CTE.
    status, body = curl("--cacert", ca, "-u", f"curl:{est.password()}", "-H",
                        "Content-Type: application/pkcs10", "-H",
                        "Content-Transfer-Encoding: base64", "--data-binary", f"@{req}",
                        f"{est.base}/{LABEL}/simpleenroll")
    assert status == 200, body
    pem = pkcs7_certs(workdir, "c", body)
    cert = write(os.path.join(workdir, "c.pem"), pem)

    # Re-enrolment with the client certificate, on the label-first path.
    req2 = der_csr_b64(workdir, "c2", "/CN=curlclient")
    status, body = curl("--cacert", ca, "--cert", cert, "--key", os.path.join(workdir, "c.key"),
                        "-H", "Content-Type: application/pkcs10", "--data-binary", f"@{req2}",
                        f"https://127.0.0.1:{est.https}/{LABEL}/.well-known/est/simplereenroll")
    assert status == 200, body
    assert "CN = curlclient" in pkcs7_certs(workdir, "c2", body)
    # Another identity is not a re-enrolment.
    req3 = der_csr_b64(workdir, "c3", "/CN=someone-else")
    status, body = curl("--cacert", ca, "--cert", cert, "--key", os.path.join(workdir, "c.key"),
                        "--data-binary", f"@{req3}", f"{est.base}/simplereenroll")
    assert status == 400 and "RFC 7030 4.2.2" in body, body

    # Revoked: the certificate authenticates nothing any more.
    serial = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-serial"],
                            capture_output=True, text=True).stdout.strip().split("=")[1]
    est.exec(f"revoke 0x{serial}")
    status, body = curl("--cacert", ca, "--cert", cert, "--key", os.path.join(workdir, "c.key"),
                        "--data-binary", f"@{req2}", f"{est.base}/simplereenroll")
    assert status == 401, body

    status, _ = curl("--cacert", ca, "-u", f"curl:{est.password()}", "-X", "POST",
                     f"{est.base}/fullcmc")
    assert status == 501
    status, _ = curl("--cacert", ca, f"{est.base}/nosuch/cacerts")
    assert status == 404
    # Plain HTTP to the HTTPS port is no answer; the listener keeps serving.
    status, _ = curl(f"http://127.0.0.1:{est.https}/.well-known/est/cacerts", ok=False)
    assert status == 0
    status, _ = curl("--cacert", ca, f"{est.base}/cacerts")
    assert status == 200


def serverkeygen_parts(workdir, name, headers_file, body):
    """The key and the certificate of a serverkeygen answer, read by Python's MIME parser:
    (key DER path, certificate PEM path)."""
    content_type = re.search(r"(?im)^content-type: (.*?)\r?$", open(headers_file).read())
    msg = email.message_from_string(f"Content-Type: {content_type.group(1)}\r\n\r\n{body}",
                                    policy=email.policy.HTTP)
    assert msg.is_multipart(), body
    parts = {p.get_content_type(): p for p in msg.iter_parts()}
    assert set(parts) == {"application/pkcs8", "application/pkcs7-mime"}, parts
    assert parts["application/pkcs7-mime"].get_param("smime-type") == "certs-only"
    key = os.path.join(workdir, name + ".key.der")
    with open(key, "wb") as f:
        f.write(parts["application/pkcs8"].get_payload(decode=True))
    p7 = base64.b64encode(parts["application/pkcs7-mime"].get_payload(decode=True)).decode()
    cert = write(os.path.join(workdir, name + ".pem"), pkcs7_certs(workdir, name, p7))
    return key, cert


def public_key_of(*args):
    r = subprocess.run(["openssl", *args, "-pubout" if args[0] == "pkey" else "-pubkey",
                        *(["-noout"] if args[0] == "x509" else [])], capture_output=True,
                       text=True, check=True)
    return r.stdout


def test_serverkeygen_with_curl_and_openssl(est, workdir):
    """serverkeygen: the key comes back as PKCS#8 beside its certificate (multipart/mixed,
    as Python's MIME parser reads it); of the kind the request's key is; under manual grant
    it waits sealed with the request, and the client's repeat after `grant` gets it."""
    ca = est.ca_pem()
    req = der_csr_b64(workdir, "k", "/CN=keygen", key="rsa:2048")
    hdrs = os.path.join(workdir, "k.h")
    status, body = curl("--cacert", ca, "-D", hdrs, "-u", f"kg:{est.password()}", "-H",
                        "Content-Type: application/pkcs10", "--data-binary", f"@{req}",
                        f"{est.base}/serverkeygen")
    assert status == 200, body
    key, cert = serverkeygen_parts(workdir, "k", hdrs, body)
    rc, text = openssl("pkey", "-inform", "DER", "-in", key, "-check", "-noout")
    assert rc == 0 and "valid" in text.lower(), text
    rc, text = openssl("pkey", "-inform", "DER", "-in", key, "-text", "-noout")
    assert "Private-Key: (2048 bit" in text, text
    assert public_key_of("pkey", "-inform", "DER", "-in", key) == public_key_of(
        "x509", "-in", cert)
    rc, text = openssl("x509", "-in", cert, "-noout", "-subject")
    assert "CN = keygen" in text, text
    # The request's own key was not used.
    assert public_key_of("pkey", "-in", os.path.join(workdir, "k.key")) != public_key_of(
        "x509", "-in", cert)

    # An account under manual grant: 202, the key waits with the request; after `grant`
    # the same request gets the key and certificate, twice the same.
    est.d.sh("configure terminal", f"crypto pki server {LABEL}", "est user kg2 secret Kg2-pw",
             "end")
    req2 = der_csr_b64(workdir, "k2", "/CN=keygen2", key="ec:secp384r1")
    args = ["--cacert", ca, "-D", hdrs, "-u", "kg2:Kg2-pw", "--data-binary", f"@{req2}",
            f"{est.base}/serverkeygen"]
    status, body = curl(*args)
    assert status == 202, body
    rows = est.wait_for_request("pending")
    assert len(rows) == 1, rows
    est.exec(f"grant {rows[0]['id']}")
    status, body = curl(*args)
    assert status == 200, body
    key2, cert2 = serverkeygen_parts(workdir, "k2", hdrs, body)
    rc, text = openssl("pkey", "-inform", "DER", "-in", key2, "-text", "-noout")
    assert "NIST CURVE: P-384" in text, text
    assert public_key_of("pkey", "-inform", "DER", "-in", key2) == public_key_of(
        "x509", "-in", cert2)
    status, body = curl(*args)
    assert status == 200
    _, cert3 = serverkeygen_parts(workdir, "k3", hdrs, body)
    assert open(cert3).read() == open(cert2).read()


def test_https_certificate_is_issued_by_the_ca_for_the_device(est, workdir):
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{est.https}",
                        "-CAfile", est.ca_pem(), "-verify_return_error", "-verify_ip",
                        "127.0.0.1", "-showcerts"], input="", capture_output=True, text=True,
                       timeout=30)
    assert "Verify return code: 0 (ok)" in r.stdout, r.stdout + r.stderr
    out = est.d.sh("show ip http server status")
    assert "HTTP secure server status: Enabled" in out, out
    assert f"HTTP secure server port: {est.https}\n" in out, out
    # Turning it off closes the port.
    est.d.sh("configure terminal", "no ip http secure-server", "end")
    wait_for(lambda: connection_refused(est.https), what="HTTPS listener stopped")


def test_account_waits_for_the_operator_then_gets_its_certificate(est, workdir):
    """An `est user` account under manual grant: 202 with Retry-After, the same request
    asked again after `grant` gets the certificate. Kept hashed in the configuration."""
    est.d.sh("configure terminal", f"crypto pki server {LABEL}", "est user dev7 secret Dev7-pw",
             "end")
    config = est.d.sh("show running-config")
    assert re.search(r"est user dev7 secret 9 \$9\$\S{14}\$\S{43}\n", config), config
    assert "Dev7-pw" not in config
    req = der_csr_b64(workdir, "a", "/CN=dev7")
    args = ["--cacert", est.ca_pem(), "-u", "dev7:Dev7-pw", "-H",
            "Content-Type: application/pkcs10", "--data-binary", f"@{req}",
            f"{est.base}/simpleenroll"]
    hdrs = os.path.join(workdir, "h.txt")
    status, body = curl("-D", hdrs, *args)
    assert status == 202, body
    assert re.search(r"(?i)retry-after: 60\r?\n", open(hdrs).read())
    status, _ = curl(*args)
    assert status == 202
    rows = est.wait_for_request("pending")
    assert len(rows) == 1, rows  # asked twice, stored once
    est.exec(f"grant {rows[0]['id']}")
    status, body = curl(*args)
    assert status == 200, body
    assert "CN = dev7" in pkcs7_certs(workdir, "a", body)
    status, _ = curl("--cacert", est.ca_pem(), "-u", "dev7:wrong", "--data-binary", f"@{req}",
                     f"{est.base}/simpleenroll")
    assert status == 401


def last_serial(s):
    m = re.search(r"Last certificate issued serial number: (0x[0-9A-F]+)", s.d.show_server())
    assert m
    return int(m.group(1), 16)


def test_attacks_cost_little_and_leave_nothing_behind(est, workdir):
    """Bare connections, garbage and plaintext on the TLS port, an oversized body, a
    replayed request: refused or answered as before, nothing new issued or stored, and
    the listener keeps serving."""
    with socket.create_connection(("127.0.0.1", est.https), timeout=5):
        pass  # a bare connect and close
    for payload in (b"\x16\x03\x01\x02\x00" + os.urandom(4096), b"GET / HTTP/1.1\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", est.https), timeout=5) as sock:
            sock.sendall(payload)
            try:
                while sock.recv(65536):
                    pass  # a TLS alert at most, then the server closes
            except ConnectionResetError:
                pass
    # 200 KiB of base64: refused before it reaches the CA.
    big = write(os.path.join(workdir, "big.b64"), "A" * (200 * 1024))
    status, _ = curl("--cacert", est.ca_pem(), "-u", f"x:{est.password()}", "--data-binary",
                     f"@{big}", f"{est.base}/simpleenroll", ok=False)
    assert status == 413, status

    # Replayed after it was granted: the same certificate, not a second one.
    req = der_csr_b64(workdir, "r", "/CN=replayed")
    args = ["--cacert", est.ca_pem(), "--data-binary", f"@{req}", f"{est.base}/simpleenroll"]
    status, first = curl("-u", f"x:{est.password()}", *args)
    assert status == 200, first
    serial = last_serial(est)
    status, again = curl("-u", f"y:{est.password()}", *args)
    assert status == 200 and again == first
    assert last_serial(est) == serial
    assert est.requests() and all(r["state"] == "granted" for r in est.requests())
    status, _ = curl("--cacert", est.ca_pem(), f"{est.base}/cacerts")
    assert status == 200
