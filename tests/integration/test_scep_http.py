"""SCEP over HTTP without a SCEP client: GetCACaps, GetCACert, the plain GetCRL behind
`cdp-url`, the pkiclient.exe paths, response headers, HTTP/1.0 as IOS speaks it,
malformed PKIOperations, and the listener following `ip http server|port`."""

import os
import socket

import pytest

from conftest import LABEL, openssl, make_csr, extract_certificate, wait_for, write
from scep_helpers import (SCEP_PATH, ScepServer, connection_refused, fetch,
                          http_listening_port, port_open, wait_listening)


@pytest.fixture
def scep(daemon, workdir):
    return ScepServer(daemon, workdir).listen().create_ca("grant auto")


def assert_no_cache(r):
    assert "no-store" in r.header("Cache-Control"), r.headers
    assert r.header("Pragma") == "no-cache", r.headers


def test_get_ca_caps(scep):
    r = scep.get("operation=GetCACaps")
    assert r.status == 200
    assert r.header("Content-Type").startswith("text/plain")
    assert_no_cache(r)
    caps = r.body.decode().splitlines()
    for cap in ("AES", "DES3", "POSTPKIOperation", "Renewal", "SHA-1", "SHA-256", "SHA-512",
                "SCEPStandard"):
        assert cap in caps, caps
    # RFC 8894: GetNextCACert only while a rollover certificate exists.
    assert "GetNextCACert" not in caps
    assert all(c.strip() == c and c for c in caps), caps
    assert scep.get("operation=GetNextCACert").status == 404


def test_get_ca_cert_is_the_der_ca_certificate(scep):
    # IOS sends its trustpoint label, sscep "CAIdentifier": any value means this CA.
    for message in (None, LABEL, "Test-Router", "CAIdentifier"):
        r = scep.get("operation=GetCACert" + (f"&message={message}" if message else ""))
        assert r.status == 200, message
        assert r.header("Content-Type") == "application/x-x509-ca-cert"
        assert_no_cache(r)
        assert r.body == scep.d.ca_der()
        assert int(r.header("Content-Length")) == len(r.body)


def test_pkiclient_paths(scep):
    for path in (SCEP_PATH, "/scep/pkiclient.exe", "/scep/myscep/pkiclient.exe",
                 "/pkiclient.exe"):
        r = scep.get("operation=GetCACert", path=path)
        assert r.status == 200 and r.body == scep.d.ca_der(), path
    for path in ("/other", "/", "/cgi-bin/other.exe", "/pkiclient.exe.old",
                 "/cgi-bin/pkiclient.exe/x"):
        assert scep.get("operation=GetCACert", path=path).status == 404, path


def test_unknown_operation_is_400(scep):
    assert scep.get("operation=Bogus").status == 400
    assert scep.get("").status == 400


def test_get_crl_is_the_der_crl(scep, workdir):
    r = scep.get("operation=GetCRL")
    assert r.status == 200
    assert r.header("Content-Type") == "application/pkix-crl"
    assert_no_cache(r)
    crl = write(os.path.join(workdir, "crl.der"), r.body, "wb")
    rc, out = openssl("crl", "-inform", "DER", "-in", crl, "-CAfile", scep.ca_pem(), "-noout",
                      "-verify")
    assert rc == 0 and "verify OK" in out, out
    with open(scep.d.path(f"{LABEL}.crl"), "rb") as f:
        assert f.read() == r.body
    # As a CDP consumer fetches it.
    status, content_type, body = fetch(f"http://127.0.0.1:{scep.port}{SCEP_PATH}?operation=GetCRL")
    assert (status, content_type, body) == (200, "application/pkix-crl", r.body)


def test_cdp_url_works_with_openssl_crl_download(daemon, workdir):
    scep = ScepServer(daemon, workdir).listen()
    cdp = f"http://127.0.0.1:{scep.port}{SCEP_PATH}?operation=GetCRL"
    scep.create_ca("grant auto", f"cdp-url {cdp}")
    csr = make_csr(workdir, "leaf", "/CN=leaf", key="shared")
    leaf = write(os.path.join(workdir, "leaf.pem"), extract_certificate(daemon.submit(csr)))
    rc, out = openssl("x509", "-in", leaf, "-noout", "-ext", "crlDistributionPoints")
    assert cdp in out, out

    def crl_verify():
        return openssl("verify", "-crl_download", "-crl_check", "-CAfile", scep.ca_pem(), leaf)

    rc, out = crl_verify()
    assert rc == 0 and "OK" in out, out
    scep.exec("revoke 2")
    rc, out = crl_verify()
    assert rc != 0 and "certificate revoked" in out, out


def raw_http(port, request, timeout=10):
    """Sends `request` bytes and reads until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data
            data += chunk


def test_http_1_0_without_keep_alive_as_ios_sends_it(scep):
    # The request line and headers of an IOS router's GetCACert.
    request = (f"GET {SCEP_PATH}?operation=GetCACert&message=Test-Router HTTP/1.0\r\n"
               "User-Agent: Mozilla/4.0 (compatible; MSIE 5.0; Cisco PKI)\r\n"
               f"Host: 127.0.0.1:{scep.port}\r\n\r\n").encode()
    data = raw_http(scep.port, request)  # returns only once the server has closed
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0].split()[1] == "200", lines
    headers = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:]}
    assert headers["content-type"] == "application/x-x509-ca-cert"
    assert int(headers["content-length"]) == len(body)
    assert body == scep.d.ca_der()


def test_malformed_pki_operations_are_http_400(scep):
    bodies = [b"", b"garbage", b"\x30\x80\x00\x00", scep.d.ca_der(), scep.d.ca_der()[:100]]
    for body in bodies:
        r = scep.get("operation=PKIOperation", method="POST", body=body,
                     headers={"Content-Type": "application/x-pki-message"})
        assert r.status == 400, (body[:10], r.status, r.body)
        assert r.header("Content-Type").startswith("text/plain")
    for message in ("!!!", "AAAA", "MIIB%0AAAAA"):
        assert scep.get(f"operation=PKIOperation&message={message}").status == 400
    assert scep.get("operation=PKIOperation").status == 400
    # Still serving, and nothing was recorded.
    assert scep.get("operation=GetCACaps").status == 200
    assert scep.requests() == []
    assert scep.d.server_enabled()


def test_show_ip_http_server_status(scep):
    out = scep.d.sh("show ip http server status")
    assert out == ("HTTP server status: Enabled\n"
                   f"HTTP server port: {scep.port}\n"
                   "HTTP server bind address: 127.0.0.1\n"
                   "HTTP secure server capability: Present\n"
                   "HTTP secure server status: Disabled\n"
                   "HTTP secure server port: 443\n"
                   "HTTP secure server trustpoint: none (a certificate from the local CA)\n"
                   "HTTP metrics (/metrics): Enabled\n"), out
    assert port_open(scep.port)
    # Port 0 is saved as such: a restart binds a free port again.
    assert "ip http port 0\n" in scep.d.sh("show running-config")


def test_no_ip_http_server_refuses_connections(scep):
    scep.d.sh("configure terminal", "no ip http server", "end")
    wait_for(lambda: connection_refused(scep.port), what="listener closed")
    assert http_listening_port(scep.d) is None
    out = scep.d.sh("show ip http server status")
    assert "HTTP server status: Disabled\nHTTP server port: 0 (any free port)\n" in out, out
    scep.d.sh("configure terminal", "ip http server", "end")
    scep.port = wait_listening(scep.d)  # any free port again, maybe another one
    assert port_open(scep.port)
    assert scep.get("operation=GetCACaps").status == 200


def test_ip_http_port_moves_the_listener(scep, reserved_port):
    old = scep.port
    new = reserved_port
    scep.d.sh("configure terminal", f"ip http port {new}", "end")
    assert wait_listening(scep.d, new) == new
    assert port_open(new)
    wait_for(lambda: connection_refused(old), what=f"nothing on {old}")
    scep.port = new
    r = scep.get("operation=GetCACert")
    assert r.status == 200 and r.body == scep.d.ca_der()
    out = scep.d.sh("show running-config")
    assert f"ip http port {new}" in out, out


def test_get_ca_cert_while_the_server_is_shut_down(daemon, workdir):
    scep = ScepServer(daemon, workdir).listen()
    r = scep.get("operation=GetCACert")
    assert r.status == 503
    scep.create_ca()
    assert scep.get("operation=GetCACert").status == 200
    daemon.cs("shutdown")
    assert scep.get("operation=GetCACert").status == 503
    assert scep.get("operation=GetCRL").status == 503
