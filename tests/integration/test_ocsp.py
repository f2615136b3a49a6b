"""OCSP (`ocsp` under crypto pki server) with real clients: `openssl ocsp`, GnuTLS
`ocsptool --ask` (which takes the URL from the certificate's authorityInfoAccess), and
`gnutls-cli --ocsp` checking a TLS server's certificate in a real handshake. A revocation
shows in the next answer; connections that send nothing, half a request, garbage or a
1 MiB body do not stop the responder."""

import base64
import os
import re
import socket
import subprocess
import time
import urllib.parse

import pytest

from conftest import LABEL, openssl, make_csr, extract_certificate, cert_serial, write
from scep_helpers import ScepServer, http_request


@pytest.fixture
def ocsp(daemon, workdir):
    scep = ScepServer(daemon, workdir).listen()
    url = f"http://127.0.0.1:{scep.port}/ocsp"
    scep.create_ca("grant auto", "ocsp", f"ocsp url {url}")
    scep.ocsp_url = url
    return scep


def issue(s, name, subject, extra=()):
    csr = make_csr(s.workdir, name, subject, key="ec:prime256v1", extra=extra)
    pem = extract_certificate(s.d.submit(csr))
    return write(os.path.join(s.workdir, name + ".pem"), pem), cert_serial(pem)


def openssl_ocsp(s, *args):
    """`openssl ocsp` against the responder, trusting the CA: its output."""
    rc, out = openssl("ocsp", "-issuer", s.ca_pem(), "-url", s.ocsp_url, "-CAfile", s.ca_pem(),
                      *args)
    assert rc == 0, out
    return out


def test_openssl_sees_good_revoked_and_unknown(ocsp, workdir):
    leaf, serial = issue(ocsp, "leaf", "/CN=leaf.example.com")
    rc, uri = openssl("x509", "-in", leaf, "-noout", "-ocsp_uri")
    assert rc == 0 and uri.strip() == ocsp.ocsp_url, uri

    out = openssl_ocsp(ocsp, "-cert", leaf)
    assert "Response verify OK" in out, out
    assert f"{leaf}: good" in out, out

    ocsp.d.sh(f"crypto pki server {LABEL} revoke {serial} reason keyCompromise")
    out = openssl_ocsp(ocsp, "-cert", leaf, "-resp_text")
    assert "Response verify OK" in out, out
    assert f"{leaf}: revoked" in out, out
    assert "Revocation Time:" in out, out
    assert "Reason: keyCompromise" in out, out

    ocsp.d.sh(f"crypto pki server {LABEL} unrevoke {serial}")
    assert f"{leaf}: good" in openssl_ocsp(ocsp, "-cert", leaf)

    out = openssl_ocsp(ocsp, "-serial", "0x7777")
    assert "0x7777: unknown" in out, out

    # Another CA's certificate: unauthorized, unsigned.
    other = os.path.join(workdir, "other.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", os.path.join(workdir, "o.key"),
                    "-subj", "/CN=other", "-out", other], check=True, capture_output=True)
    rc, out = openssl("ocsp", "-issuer", other, "-serial", "5", "-url", ocsp.ocsp_url)
    assert "unauthorized (6)" in out, out

    assert "OCSP responder: enabled at /ocsp" in ocsp.d.show_server()


def test_get_and_cache_headers(ocsp, workdir):
    leaf, _ = issue(ocsp, "leaf", "/CN=get.example.com")
    req = os.path.join(workdir, "req.der")
    rc, out = openssl("ocsp", "-issuer", ocsp.ca_pem(), "-cert", leaf, "-no_nonce", "-reqout", req)
    assert rc == 0, out
    with open(req, "rb") as f:
        der = f.read()
    target = "/ocsp/" + urllib.parse.quote(base64.b64encode(der).decode(), safe="")
    first = http_request(ocsp.port, "GET", target)
    assert first.status == 200
    assert first.headers["content-type"] == "application/ocsp-response"
    assert "max-age=" in first.headers["cache-control"], first.headers
    assert "last-modified" in first.headers and "expires" in first.headers
    # Cached: the same signed bytes for GET and POST.
    second = http_request(ocsp.port, "POST", "/ocsp", body=der,
                          headers={"Content-Type": "application/ocsp-request"})
    assert second.status == 200 and second.body == first.body
    resp = os.path.join(workdir, "resp.der")
    with open(resp, "wb") as f:
        f.write(first.body)
    rc, out = openssl("ocsp", "-respin", resp, "-issuer", ocsp.ca_pem(), "-cert", leaf,
                      "-CAfile", ocsp.ca_pem())
    assert rc == 0 and f"{leaf}: good" in out, out


def test_gnutls_ocsptool_asks_the_aia(ocsp):
    leaf, serial = issue(ocsp, "leaf", "/CN=gnutls.example.com")
    args = ["ocsptool", "--ask", "--load-cert", leaf, "--load-issuer", ocsp.ca_pem(),
            "--load-trust", ocsp.ca_pem()]
    p = subprocess.run(args, capture_output=True, text=True, timeout=60)
    out = p.stdout + p.stderr
    assert "Verifying OCSP Response: Success" in out, out
    assert "Certificate Status: good" in out, out
    ocsp.d.sh(f"crypto pki server {LABEL} revoke {serial}")
    p = subprocess.run(args, capture_output=True, text=True, timeout=60)
    out = p.stdout + p.stderr
    assert "Certificate Status: revoked" in out, out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_gnutls_cli_checks_a_tls_server_online(ocsp, workdir):
    ext = os.path.join(workdir, "san.cnf")
    write(ext, "[req]\ndistinguished_name=dn\nreq_extensions=ext\n[dn]\n"
               "[ext]\nsubjectAltName=IP:127.0.0.1\n")
    leaf, serial = issue(ocsp, "tls", "/CN=127.0.0.1", extra=("-config", ext))
    port = free_port()
    server = subprocess.Popen(
        ["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert", leaf,
         "-key", os.path.join(workdir, "tls.key"), "-www", "-quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 10
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)

        def handshake():
            p = subprocess.run(["gnutls-cli", "--ocsp", "--x509cafile", ocsp.ca_pem(),
                                "-p", str(port), "127.0.0.1"],
                               input="", capture_output=True, text=True, timeout=60)
            return p.returncode, p.stdout + p.stderr

        rc, out = handshake()
        assert rc == 0, out
        assert "OCSP server flags certificate not revoked" in out, out
        ocsp.d.sh(f"crypto pki server {LABEL} revoke {serial}")
        rc, out = handshake()
        assert rc != 0, out
        assert "revoked" in out, out
    finally:
        server.kill()
        server.wait()


def test_the_responder_outlives_bad_clients(ocsp, workdir):
    leaf, _ = issue(ocsp, "leaf", "/CN=robust.example.com")
    # The probe that wedges `openssl ocsp` as a responder: connect, close.
    for _ in range(3):
        socket.create_connection(("127.0.0.1", ocsp.port)).close()
    # Half-closed after half a request.
    s = socket.create_connection(("127.0.0.1", ocsp.port))
    s.sendall(b"POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0\x82")
    s.shutdown(socket.SHUT_WR)
    s.settimeout(15)
    try:
        while s.recv(4096):
            pass
    except OSError:
        pass
    s.close()
    # Garbage on the wire, and garbage as a request.
    with socket.create_connection(("127.0.0.1", ocsp.port)) as g:
        g.sendall(os.urandom(4096))
    r = http_request(ocsp.port, "POST", "/ocsp", body=b"\x30\x03garbage")
    assert r.status == 200 and r.body == b"\x30\x03\x0a\x01\x01"  # malformedRequest
    r = http_request(ocsp.port, "GET", "/ocsp/not*base64")
    assert r.status == 200 and r.body == b"\x30\x03\x0a\x01\x01"
    # A 1 MiB body is refused before it is read.
    r = http_request(ocsp.port, "POST", "/ocsp", body=b"\x30" * (1 << 20))
    assert r.status == 413
    out = openssl_ocsp(ocsp, "-cert", leaf)
    assert f"{leaf}: good" in out, out


def test_a_delegated_responder(daemon, workdir):
    s = ScepServer(daemon, workdir).listen()
    s.ocsp_url = f"http://127.0.0.1:{s.port}/ocsp"
    s.create_ca("grant auto", "ocsp", f"ocsp url {s.ocsp_url}", "ocsp responder-key ocspkey")
    assert "OCSP responses signed by: delegated responder key ocspkey" in daemon.show_server()
    leaf, serial = issue(s, "leaf", "/CN=delegated.example.com")
    out = openssl_ocsp(s, "-cert", leaf, "-resp_text")
    assert "Response verify OK" in out, out
    assert f"{leaf}: good" in out, out
    assert "OCSP Signing" in out and "OCSP No Check" in out, out
    daemon.sh(f"crypto pki server {LABEL} revoke {serial} reason superseded")
    p = subprocess.run(["ocsptool", "--ask", "--load-cert", leaf, "--load-issuer", s.ca_pem(),
                        "--load-trust", s.ca_pem()], capture_output=True, text=True, timeout=60)
    out = p.stdout + p.stderr
    assert "Verifying OCSP Response: Success" in out, out
    assert "Certificate Status: revoked" in out, out
