#!/usr/bin/env python3
"""What malicious EST and OCSP requests cost scepterd, next to honest ones.

For each kind below, COUNT requests go to a running scepterd one at a time (on one
keep-alive connection where the kind allows), and the server's CPU time (utime + stime of
the process, /proc/PID/stat, before and after the batch) is divided by the number of
requests. EST rows are compared with an honest EST enrolment (simpleenroll by a client
certificate of the CA under `grant auto`: one certificate signed), OCSP rows with an
honest fresh OCSP answer (a request with a nonce: one response signed). Every message of
a batch is built before the batch starts. bench/run_est_ocsp_attack_bench.sh sets the
server up and runs this; it prints a Markdown table for docs/performance.md.

  est_ocsp_attack.py --pid PID --https-port P --http-port Q --ca CA.pem
      --client-cert C.pem --client-key C.key --account NAME [--n 200] [--n-big 20]
"""

import argparse
import base64
import datetime
import http.client
import os
import secrets
import socket
import ssl
import sys
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

HZ = os.sysconf("SC_CLK_TCK")
EST = "/.well-known/est"


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)


def csr_b64(cn):
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
           .sign(key, hashes.SHA256()))
    return base64.b64encode(csr.public_bytes(serialization.Encoding.DER))


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class Target:
    def __init__(self, args):
        self.a = args
        self.plain_tls = ssl.create_default_context(cafile=args.ca)
        self.plain_tls.check_hostname = False
        self.cert_tls = ssl.create_default_context(cafile=args.ca)
        self.cert_tls.check_hostname = False
        self.cert_tls.load_cert_chain(args.client_cert, args.client_key)

    def https(self, with_cert):
        return http.client.HTTPSConnection(
            "127.0.0.1", self.a.https_port, timeout=60,
            context=self.cert_tls if with_cert else self.plain_tls)

    def http(self):
        return http.client.HTTPConnection("127.0.0.1", self.a.http_port, timeout=60)


def describe(status, body):
    """How an answer is counted: its HTTP status, and for an OCSP response its
    responseStatus and certStatus."""
    if status == 0:
        return "no HTTP answer"
    if status != 200:
        return f"HTTP {status}"
    try:
        r = ocsp.load_der_ocsp_response(body)
    except ValueError:
        return f"HTTP {status}"
    if r.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        return f"OCSP {r.response_status.name}"
    return f"OCSP {r.certificate_status.name}"


def exchange(conn, method, path, body, headers):
    """One request on `conn` (reopened by http.client when the server closed it): what the
    answer was (describe())."""
    for attempt in range(2):
        try:
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            data = r.read()
            if path == "/ocsp":
                return describe(r.status, data)
            return f"HTTP {r.status}"
        except (http.client.HTTPException, OSError):
            conn.close()
    return "no HTTP answer"


def http_batch(make_conn, requests):
    conn = make_conn()
    statuses = [exchange(conn, *r) for r in requests]
    conn.close()
    return statuses


def connection_batch(count, action):
    """`count` new connections to the HTTPS port, each doing `action(sock)`; status 0."""
    out = []
    for _ in range(count):
        with socket.create_connection(("127.0.0.1", ARGS.https_port), timeout=30) as s:
            action(s)
            out.append("connection closed")
    return out


def handshake_then_close(target):
    def act(s):
        with target.plain_tls.wrap_socket(s) as t:
            t.do_handshake()
    return act


def garbage_then_close(s):
    s.sendall(secrets.token_bytes(4096))
    try:
        s.recv(4096)
    except OSError:
        pass


# ---- OCSP requests ----

def ocsp_der(builder, nonce):
    if nonce:
        builder = builder.add_extension(x509.OCSPNonce(secrets.token_bytes(16)), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def ocsp_for(cert, issuer, nonce=True):
    return ocsp_der(ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1()), nonce)


def ocsp_for_serial(issuer, serial, nonce=True):
    """A request for `serial` of `issuer`, whether or not it issued one."""
    name_hash = hashes.Hash(hashes.SHA1())
    name_hash.update(issuer.subject.public_bytes())
    # issuerKeyHash: SHA-1 of the subjectPublicKey BIT STRING's contents.
    pub = issuer.public_key()
    if isinstance(pub, ec.EllipticCurvePublicKey):
        key_bits = pub.public_bytes(serialization.Encoding.X962,
                                    serialization.PublicFormat.UncompressedPoint)
    else:
        key_bits = pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    key_hash = hashes.Hash(hashes.SHA1())
    key_hash.update(key_bits)
    builder = ocsp.OCSPRequestBuilder().add_certificate_by_hash(
        name_hash.finalize(), key_hash.finalize(), serial, hashes.SHA1())
    return ocsp_der(builder, nonce)


def stranger_pair():
    """A CA of nobody's and a certificate it issued."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stranger CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    day = datetime.timedelta(days=1)
    made = []
    for serial in (1, 2):
        made.append(x509.CertificateBuilder().subject_name(name).issuer_name(name)
                    .public_key(key.public_key()).serial_number(serial)
                    .not_valid_before(now - day).not_valid_after(now + day)
                    .sign(key, hashes.SHA256()))
    return made[0], made[1]


def ocsp_post(der):
    return ("POST", "/ocsp", der, {"Content-Type": "application/ocsp-request"})


# ---- the kinds ----

def kinds(target, n, n_big):
    a = target.a
    ca = x509.load_pem_x509_certificate(open(a.ca, "rb").read())
    client = x509.load_pem_x509_certificate(open(a.client_cert, "rb").read())
    pkcs10 = {"Content-Type": "application/pkcs10"}
    with_cert = lambda reqs: (lambda: http_batch(lambda: target.https(True), reqs))
    without_cert = lambda reqs: (lambda: http_batch(lambda: target.https(False), reqs))
    enroll = f"{EST}/simpleenroll"
    replayed = csr_b64("attack-replay")
    other = csr_b64("attack-someone-else")
    stranger_ca, stranger_leaf = stranger_pair()
    big = b"A" * (1 << 20)
    out = [
        ("est", "honest simpleenroll (client certificate, granted)", n,
         with_cert([("POST", enroll, csr_b64(f"attack-honest-{i}"), pkcs10) for i in range(n)])),
        ("est", "no credentials", n,
         without_cert([("POST", enroll, csr_b64(f"attack-anon-{i}"), pkcs10) for i in range(n)])),
        ("est", "wrong one-time password (Basic)", n,
         without_cert([("POST", enroll, csr_b64(f"attack-otp-{i}"),
                        {**pkcs10, "Authorization": basic("x", secrets.token_hex(8))})
                       for i in range(n)])),
        ("est", f"wrong password for account {a.account} (scrypt for the first 5 a minute)", n,
         without_cert([("POST", enroll, csr_b64(f"attack-acct-{i}"),
                        {**pkcs10, "Authorization": basic(a.account, secrets.token_hex(8))})
                       for i in range(n)])),
        ("est", "1 MiB body, no credentials", n_big,
         without_cert([("POST", enroll, big, pkcs10) for _ in range(n_big)])),
        ("est", "garbage body, authenticated", n,
         with_cert([("POST", enroll, base64.b64encode(secrets.token_bytes(600)), pkcs10)
                    for _ in range(n)])),
        ("est", "1 MiB body, authenticated", n_big,
         with_cert([("POST", enroll, big, pkcs10) for _ in range(n_big)])),
        ("est", "simplereenroll for another identity", n,
         with_cert([("POST", f"{EST}/simplereenroll", other, pkcs10) for _ in range(n)])),
        ("est", "replay of one request (1 issued, then the same answer)", n,
         with_cert([("POST", enroll, replayed, pkcs10) for _ in range(n)])),
        ("est", "fullcmc", n, with_cert([("POST", f"{EST}/fullcmc", other, pkcs10)
                                          for _ in range(n)])),
        ("est", "TLS handshake, then close (new connection each)", n,
         lambda: connection_batch(n, handshake_then_close(target))),
        ("est", "4 KiB of garbage to the TLS port (new connection each)", n,
         lambda: connection_batch(n, garbage_then_close)),
        ("ocsp", "honest fresh (nonce, certificate good)", n,
         lambda: http_batch(target.http, [ocsp_post(ocsp_for(client, ca)) for _ in range(n)])),
        ("ocsp", "honest cached (no nonce)", n,
         lambda: http_batch(target.http, [ocsp_post(ocsp_for(client, ca, nonce=False))
                                          for _ in range(n)])),
        ("ocsp", "garbage body", n,
         lambda: http_batch(target.http, [ocsp_post(secrets.token_bytes(300)) for _ in range(n)])),
        ("ocsp", "1 MiB body", n_big,
         lambda: http_batch(target.http, [ocsp_post(big) for _ in range(n_big)])),
        ("ocsp", "another issuer's certificate", n,
         lambda: http_batch(target.http, [ocsp_post(ocsp_for(stranger_leaf, stranger_ca))
                                          for _ in range(n)])),
        ("ocsp", "random serials, no nonce (each unknown, signed once)", n,
         lambda: http_batch(target.http, [ocsp_post(ocsp_for_serial(
             ca, secrets.randbits(63) | 1 << 62, nonce=False)) for _ in range(n)])),
        ("ocsp", "a nonce of 33 bytes (over the limit)", n,
         lambda: http_batch(target.http, [ocsp_post(ocsp_der(
             ocsp.OCSPRequestBuilder().add_certificate(client, ca, hashes.SHA1())
             .add_extension(x509.OCSPNonce(secrets.token_bytes(33)), critical=False), False))
             for _ in range(n)])),
    ]
    return out


def main():
    global ARGS
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--https-port", type=int, required=True)
    p.add_argument("--http-port", type=int, required=True)
    p.add_argument("--ca", required=True)
    p.add_argument("--client-cert", required=True)
    p.add_argument("--client-key", required=True)
    p.add_argument("--account", required=True)
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--n-big", type=int, default=20)
    p.add_argument("--only", default="", help="run only the kinds whose text has this")
    ARGS = p.parse_args()
    target = Target(ARGS)
    rows = []
    base = {}
    for protocol, what, count, batch in kinds(target, ARGS.n, ARGS.n_big):
        if ARGS.only and ARGS.only not in f"{protocol}: {what}" and "honest" not in what:
            continue
        before = cpu_ticks(ARGS.pid)
        started = time.monotonic()
        answers = batch()
        took = time.monotonic() - started
        after = cpu_ticks(ARGS.pid)
        ms = (after - before) * 1000 / HZ / max(1, len(answers))
        counted = {}
        for a in answers:
            counted[a] = counted.get(a, 0) + 1
        text = ", ".join(f"{k} × {a}" for a, k in sorted(counted.items()))
        base.setdefault(protocol, ms)
        rows.append((protocol, what, len(answers), text, ms))
        print(f"{protocol}: {what}: {len(answers)} requests in {took:.1f} s, {text}, "
              f"{ms:.2f} ms CPU each", flush=True)
    print()
    print("| protocol | kind | requests | answers | server CPU ms/request | ratio to honest |")
    print("|---|---|---|---|---|---|")
    for protocol, what, count, text, ms in rows:
        ratio = ms / base[protocol] if base[protocol] else float("nan")
        print(f"| {protocol.upper()} | {what} | {count} | {text} | {ms:.2f} | {ratio:.2f} |")


if __name__ == "__main__":
    sys.exit(main())
