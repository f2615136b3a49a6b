"""A certificate server's life: creating the CA, what `show` says about it, the CA
certificate and its archive, shutdown and no shutdown, locked settings, the running-config
round trip across a restart, deletion, ranges and the CLI's IOS error messages."""

import datetime
import hashlib
import os
import re

import pytest

from conftest import (openssl, x509_text, cert_validity, der_to_pem, wait_for, make_csr,
                      extract_certificate, cert_serial)


def fingerprint_groups(der):
    h = hashlib.md5(der).hexdigest().upper()
    return " ".join(h[i:i + 8] for i in range(0, 32, 8))


def running_config(d):
    out = d.sh("show running-config")
    return out[out.index("!"):]  # after the "Current configuration : N bytes" header


def test_first_no_shutdown_creates_the_ca(daemon):
    out = daemon.create_ca()
    assert "% Some server settings cannot be changed after CA certificate generation." in out
    assert "Are you sure you want to do this? [yes/no]:" in out
    assert "% Generating 2048 bit RSA keys, keys will be non-exportable...[OK]" in out
    assert "% Exporting Certificate Server signing certificate and keys..." in out
    assert "Password:" not in out  # the archive password came from the configuration

    show = daemon.show_server()
    der = daemon.ca_der()
    assert show.startswith("Certificate Server mycs:\n")
    assert "  Status: enabled\n" in show
    assert "  State: enabled\n" in show
    assert "  Issuer name: CN=mycs\n" in show
    assert f"  CA cert fingerprint: {fingerprint_groups(der)}\n" in show
    assert "  Granting mode is: manual\n" in show
    assert "  Last certificate issued serial number: 0x1\n" in show
    assert "  Current storage dir: nvram:\n" in show
    assert "  Database Level: Minimum - no cert data written to storage\n" in show
    assert re.search(r"  CRL NextUpdate timer: \d\d:\d\d:\d\d UTC \w{3} \d{1,2} \d{4}\n", show)

    # show crypto pki server without a label lists it too
    assert daemon.sh("show crypto pki server") == show

    for name in ("mycs.ser", "mycs.crl", "mycs.p12", "mycs#1CA.cer"):
        assert os.path.exists(daemon.path(name)), name
    assert os.stat(daemon.path("mycs.p12")).st_mode & 0o077 == 0


def test_ca_certificate_shape(daemon, workdir):
    before = daemon.now()
    daemon.create_ca()
    pem = der_to_pem(daemon.ca_der())
    text = x509_text(pem)
    assert "Serial Number: 1 (0x1)" in text
    assert "Issuer: CN = mycs" in text and "Subject: CN = mycs" in text
    assert re.search(r"X509v3 Basic Constraints: critical\n\s+CA:TRUE\n", text), text
    assert re.search(r"X509v3 Key Usage: critical\n\s+Digital Signature, Certificate Sign, "
                     r"CRL Sign\n", text), text
    ski = re.search(r"X509v3 Subject Key Identifier: \n\s+([0-9A-F:]+)\n", text).group(1)
    aki = re.search(r"X509v3 Authority Key Identifier: \n\s+(?:keyid:)?([0-9A-F:]+)\n",
                    text).group(1)
    assert ski == aki
    assert "Signature Algorithm: sha256WithRSAEncryption" in text
    assert "Public-Key: (2048 bit)" in text
    nb, na = cert_validity(pem)
    assert na - nb == datetime.timedelta(days=1095)
    assert abs((nb - before).total_seconds()) <= 5  # no backdating
    # self-signed: verifies against itself
    path = daemon.ca_pem_file()
    rc, out = openssl("verify", "-CAfile", path, path)
    assert rc == 0, out

    # the PKCS#12 archive opens with the configured password and holds key and certificate
    rc, out = openssl("pkcs12", "-info", "-in", daemon.path("mycs.p12"), "-passin",
                      "pass:cisco1234", "-nodes")
    assert rc == 0, out
    assert "BEGIN PRIVATE KEY" in out and "BEGIN CERTIFICATE" in out
    assert "subject=CN = mycs" in out
    rc, out = openssl("pkcs12", "-info", "-in", daemon.path("mycs.p12"), "-passin",
                      "pass:wrong-password", "-nodes")
    assert rc != 0


def test_password_prompt_issuer_lifetime_and_hash(daemon):
    out = daemon.create_ca("issuer-name CN=Root CA, O=Example, C=US",
                           "lifetime ca-certificate 700", "lifetime certificate 600",
                           "hash sha512", archive_password=None)
    assert "% Please enter a passphrase to protect the private key" in out
    assert "Password:" in out
    assert "prompt-pass1" not in out  # the answer is never echoed
    show = daemon.show_server()
    assert "  Issuer name: CN=Root CA, O=Example, C=US\n" in show
    pem = der_to_pem(daemon.ca_der())
    text = x509_text(pem)
    assert "Signature Algorithm: sha512WithRSAEncryption" in text
    # IOS order: the last RDN typed comes first in the DER
    assert "Subject: C = US, O = Example, CN = Root CA" in text
    nb, na = cert_validity(pem)
    assert na - nb == datetime.timedelta(days=700)
    rc, out = openssl("pkcs12", "-info", "-in", daemon.path("mycs.p12"), "-passin",
                      "pass:prompt-pass1", "-nodes")
    assert rc == 0, out


def test_password_prompt_refuses_short_passphrase(daemon):
    out = daemon.sh("configure terminal", "crypto pki server mycs", "no shutdown", "yes",
                    "short", "long-enough-1", "long-enough-2", "long-enough-1",
                    "long-enough-1", "end")
    assert "Re-enter password:" in out
    assert "% Passwords do not match." in out
    assert "% The passphrase must be 8 to 200 characters long." in out
    assert "% Certificate Server enabled." in out
    rc, out = openssl("pkcs12", "-info", "-in", daemon.path("mycs.p12"), "-passin",
                      "pass:long-enough-1", "-nodes")
    assert rc == 0, out


def test_empty_passphrase_or_no_cancels_first_enable(daemon):
    out = daemon.sh("configure terminal", "crypto pki server mycs", "no shutdown", "no", "end")
    assert "% Certificate Server enabled." not in out
    assert not os.path.exists(daemon.path("mycs#1CA.cer"))
    out = daemon.sh("configure terminal", "crypto pki server mycs", "no shutdown", "yes", "",
                    "end", ok=False)
    assert "% Aborted." in out
    assert "% Certificate Server enabled." not in out
    assert not os.path.exists(daemon.path("mycs#1CA.cer"))
    assert "Status: enabled" not in daemon.show_server()


def test_pem_archive(daemon, workdir):
    daemon.create_ca("database archive pem password cisco1234")
    path = daemon.path("mycs.pem")
    assert not os.path.exists(daemon.path("mycs.p12"))
    assert os.stat(path).st_mode & 0o077 == 0
    text = open(path).read()
    assert "-----BEGIN CERTIFICATE-----" in text
    assert "ENCRYPTED" in text  # the key is never in clear
    rc, out = openssl("rsa", "-in", path, "-passin", "pass:cisco1234", "-noout", "-modulus")
    assert rc == 0, out
    rc2, cert_mod = openssl("x509", "-in", path, "-noout", "-modulus")
    assert rc2 == 0 and out.strip() == cert_mod.strip()
    rc, out = openssl("rsa", "-in", path, "-passin", "pass:not-the-one", "-noout")
    assert rc != 0


def test_no_database_archive_writes_no_archive(daemon):
    daemon.create_ca("no database archive")
    assert not os.path.exists(daemon.path("mycs.p12"))
    assert not os.path.exists(daemon.path("mycs.pem"))
    assert " no database archive\n" in daemon.sh("show running-config")


def test_shutdown_and_no_shutdown(daemon, workdir):
    daemon.create_ca("grant auto")
    fp = fingerprint_groups(daemon.ca_der())
    daemon.cs("shutdown")
    show = daemon.show_server()
    assert "  Status: disabled\n" in show
    assert "configuration is unlocked" in show
    csr = make_csr(workdir, "r1", "/CN=r1", key="shared")
    out = daemon.submit(csr, ok=False)
    assert "% The certificate server is not enabled." in out
    # a second no shutdown asks nothing: the CA exists
    out = daemon.cs("no shutdown")
    assert "Are you sure" not in out and "% Certificate Server enabled." in out
    show = daemon.show_server()
    assert "  Status: enabled\n" in show and fp in show
    assert "% Granted certificate" in daemon.submit(csr)


def test_locked_settings_are_refused(daemon):
    daemon.create_ca()
    before = running_config(daemon)
    out = daemon.cs("issuer-name CN=other", ok=False)
    assert "% The issuer name cannot be changed after CA certificate generation." in out
    out = daemon.cs("lifetime ca-certificate 500", ok=False)
    assert "% The CA certificate lifetime cannot be changed" in out
    out = daemon.cs("database url /tmp", ok=False)
    assert "% Server's configuration is locked (enter \"shut\" to unlock it)." in out
    out = daemon.cs("database url crl /tmp", ok=False)
    assert "locked" in out
    out = daemon.cs("no database archive", ok=False)
    assert "locked" in out
    assert running_config(daemon) == before

    # issuer-name stays locked after shutdown; the database url does not
    daemon.cs("shutdown")
    out = daemon.cs("issuer-name CN=other", ok=False)
    assert "cannot be changed after CA certificate generation" in out
    assert "CN=other" not in daemon.sh("show running-config")
    # settings that are not locked still change while enabled
    daemon.cs("no shutdown", "lifetime certificate 30", "grant auto", "lifetime crl 24")
    assert "Granting mode is: auto" in daemon.show_server()


def test_running_config_round_trip_across_restart(daemon, workdir):
    store = os.path.join(workdir, "store")
    os.makedirs(store)
    daemon.sh("configure terminal", "hostname ca1", "ip domain-name example.com", "end")
    daemon.create_ca(f"database url {store}", "database level complete",
                     "issuer-name CN=ca1, O=Example, C=US", "lifetime certificate 200",
                     "lifetime crl 24", "lifetime enrollment-request 48",
                     "cdp-url http://ca1.example.com/cgi-bin/pkiclient.exe?operation=GetCRL",
                     "grant auto", "hash sha384", "auto-rollover 20")
    cfg = running_config(daemon)
    assert "hostname ca1\nip domain name example.com\n" in cfg, cfg
    for line in (" database url " + store, " database level complete",
                 " issuer-name CN=ca1, O=Example, C=US", " lifetime certificate 200",
                 " lifetime crl 24", " lifetime enrollment-request 48",
                 " cdp-url http://ca1.example.com/cgi-bin/pkiclient.exe?operation=GetCRL",
                 " grant auto", " hash sha384", " auto-rollover 20", " no shutdown"):
        assert line + "\n" in cfg, (line, cfg)
    assert cfg.index(" issuer-name") < cfg.index(" no shutdown")
    out = daemon.sh("write memory")
    assert "[OK]" in out
    show = daemon.show_server()
    daemon.restart()
    assert running_config(daemon) == cfg
    startup = daemon.sh("show startup-config")
    assert startup[startup.index("!"):] == cfg
    after = daemon.show_server()
    assert "Status: enabled" in after
    # same CA, same serial counter, same CRL
    same = lambda s: [l for l in s.splitlines() if "fingerprint" in l or "serial" in l
                      or "Issuer" in l or "CRL NextUpdate" in l]
    assert same(after) == same(show)
    assert os.path.exists(os.path.join(store, "mycs.ser"))


def test_unsaved_changes_are_lost_on_restart(daemon):
    daemon.create_ca()
    daemon.sh("write memory")
    daemon.cs("grant auto")
    daemon.restart()
    assert "Granting mode is: manual" in daemon.show_server()


def test_no_crypto_pki_server_removes_server_trustpoint_and_key(daemon):
    daemon.create_ca()
    old_fp = fingerprint_groups(daemon.ca_der())
    assert os.path.exists(daemon.path("private-keys/mycs.key"))
    out = daemon.sh("configure terminal", "no crypto pki server mycs", "yes", "end")
    assert "will be deleted" in out
    out = daemon.sh("show crypto pki server mycs", ok=False)
    assert "% Certificate server mycs does not exist." in out
    assert "crypto pki server" not in daemon.sh("show running-config")
    assert "crypto pki trustpoint mycs" not in daemon.sh("show running-config")
    assert "mycs" not in daemon.sh("show crypto pki trustpoints", ok=None)
    assert "mycs" not in daemon.sh("show crypto key mypubkey rsa", ok=None)
    assert not os.path.exists(daemon.path("private-keys/mycs.key"))
    assert not os.path.exists(daemon.path("mycs#1CA.cer"))
    # answering no keeps it; deleting a server that does not exist is an error
    out = daemon.sh("configure terminal", "no crypto pki server mycs", "end", ok=False)
    assert "% Certificate server mycs does not exist." in out
    # a new server with the same label gets a new key and CA (in a fresh storage dir)
    os.rename(daemon.path("mycs.ser"), daemon.path("mycs.ser.old"))
    for f in ("mycs.ser-wal", "mycs.ser-shm", "mycs.p12", "mycs.crl"):
        if os.path.exists(daemon.path(f)):
            os.remove(daemon.path(f))
    daemon.create_ca()
    assert fingerprint_groups(daemon.ca_der()) != old_fp


def test_no_crypto_pki_server_answer_no_keeps_it(daemon):
    daemon.create_ca()
    daemon.sh("configure terminal", "no crypto pki server mycs", "no", "end")
    assert "Status: enabled" in daemon.show_server()
    assert os.path.exists(daemon.path("private-keys/mycs.key"))


@pytest.mark.parametrize("line", [
    "lifetime certificate 0", "lifetime certificate 1826", "lifetime ca-certificate 0",
    "lifetime crl 0", "lifetime crl 337", "lifetime enrollment-request 0",
    "lifetime enrollment-request 1001", "auto-rollover 1826", "grant sometimes",
    "hash md4", "database level everything",
])
def test_out_of_range_values(daemon, line):
    daemon.cs()  # create the server
    before = running_config(daemon)
    out = daemon.cs(line, ok=False)
    assert "% Invalid input detected at '^' marker." in out
    caret = out.splitlines()[out.splitlines().index("% Invalid input detected at '^' marker.") - 1]
    assert caret.strip() == "^"
    # the caret is under the first bad character, after the prompt "Router(cs-server)#"
    bad = line.rindex(" ") + 1
    assert caret.index("^") == len("Router(cs-server)#") + bad, (line, caret)
    assert running_config(daemon) == before


@pytest.mark.parametrize("ca_days,cert_days", [(1825, 1795), (100, 70), (1, 1)])
def test_lifetimes_round_trip_through_startup_config(daemon, ca_days, cert_days):
    if cert_days > ca_days - 30:
        daemon.cs(f"lifetime ca-certificate {ca_days}", f"lifetime certificate {cert_days}",
                  ok=False)
        return
    # whichever order they are typed in, the saved configuration loads back
    lines = [f"lifetime ca-certificate {ca_days}", f"lifetime certificate {cert_days}"]
    if cert_days < 365:
        lines.reverse()
    daemon.cs(*lines, "lifetime crl 336", "lifetime crl 1", "lifetime enrollment-request 1000",
              "lifetime enrollment-request 1")
    cfg = running_config(daemon)
    assert f" lifetime certificate {cert_days}\n" in cfg
    assert f" lifetime ca-certificate {ca_days}\n" in cfg
    assert " lifetime crl 1\n" in cfg and " lifetime enrollment-request 1\n" in cfg
    daemon.sh("write memory")
    daemon.restart()
    assert running_config(daemon) == cfg
    assert "line(s) failed" not in daemon.log()


def test_certificate_lifetime_must_leave_30_days_of_ca_lifetime(daemon):
    out = daemon.cs("lifetime ca-certificate 100", ok=False)  # 365 > 100 - 30
    assert "(70 days)" in out
    daemon.cs("lifetime certificate 60", "lifetime ca-certificate 100")
    out = daemon.cs("lifetime certificate 71", ok=False)
    assert "% The certificate lifetime must be at most the CA certificate lifetime less 30 " \
           "days (70 days)." in out
    daemon.cs("lifetime certificate 70")
    out = daemon.cs("lifetime ca-certificate 99", ok=False)
    assert "at most the CA certificate lifetime less 30 days" in out
    assert " lifetime ca-certificate 100\n" in running_config(daemon)


@pytest.mark.parametrize("dn", ["my-server", "CN", "XX=bar", "CN=a,,O=b"])
def test_bad_issuer_name_is_refused_at_no_shutdown(daemon, dn):
    # As on IOS (the guide's own `issuer-name my-server`): the line is taken as typed,
    # and enabling refuses it, before any key or certificate is made.
    daemon.cs(f"issuer-name {dn}", "database archive pkcs12 password cisco1234")
    assert f" issuer-name {dn}\n" in daemon.sh("show running-config")
    out = daemon.cs("no shutdown", "yes", ok=False)
    assert f"% {dn} is not a valid subject name" in out, out
    show = daemon.show_server()
    assert "Status: disabled" in show and "State: check failed" in show, show
    assert not os.path.exists(daemon.path("mycs#1CA.cer"))
    daemon.cs("issuer-name CN=good", "no shutdown", "yes")
    assert daemon.server_enabled()


def test_cli_errors_and_abbreviations(daemon):
    daemon.create_ca()
    full = daemon.sh("show crypto pki server mycs")
    assert daemon.sh("sh cry pki ser mycs") == full
    assert daemon.sh("sh cry pki ser") == full
    assert "Enrollment Request Database:" in daemon.sh("sh cry pki ser mycs req")
    out = daemon.sh("show crypto pki sever", ok=False)
    lines = out.splitlines()
    assert lines[-1] == "% Invalid input detected at '^' marker."
    assert lines[-2].index("^") == len("Router#show crypto pki ")
    out = daemon.sh("sh c", ok=False)
    assert '% Ambiguous command:  "sh c"' in out
    out = daemon.sh("show crypto pki", ok=False)
    assert "% Incomplete command." in out
    out = daemon.sh("crypto pki server mycs", ok=False)
    assert "% Incomplete command." in out
    out = daemon.cs("lifetime", ok=False)
    assert "% Incomplete command." in out
    out = daemon.cs("l c 30", ok=False)
    assert "% Ambiguous command:" in out
    daemon.cs("lif cert 30", "gra au")
    cfg = running_config(daemon)
    assert " lifetime certificate 30\n" in cfg and " grant auto\n" in cfg
    out = daemon.sh("crypto pki server nosuch info requests", ok=False)
    assert "% Certificate server nosuch does not exist." in out


def test_ra_mode_needs_a_subject_naming_the_ra_role(daemon):
    """An RA's request must say `ioscs RA` (the seed's rule): refused before anything is
    asked or generated, and the server never makes a CA certificate of its own."""
    out = daemon.cs("mode ra", "no shutdown", ok=False)
    assert 'must include "cn=ioscs RA" or "ou=ioscs RA"' in out, out
    assert not os.path.exists(daemon.path("mycs#1CA.cer"))
    assert "Status: disabled" in daemon.show_server()


def test_clock_not_set_waits_and_enables_once_time_is_set(daemon):
    now = daemon.now()
    daemon.set_clock(datetime.datetime(2019, 6, 1, 12, 0, 0))
    out = daemon.sh("configure terminal", "crypto pki server mycs",
                    "database archive pkcs12 password cisco1234", "no shutdown", "yes", "end",
                    ok=False)
    assert "% Time has not been set. Cannot start the Certificate server." in out
    show = daemon.show_server()
    assert "Status: disabled, waiting for time setting" in show
    daemon.set_clock(now)
    wait_for(lambda: "Status: enabled" in daemon.show_server(), what="server enabled by itself")
    assert os.path.exists(daemon.path("mycs#1CA.cer"))


@pytest.mark.parametrize("hash_name,algorithm", [("sha384", "sha384WithRSAEncryption"),
                                                 ("sha512", "sha512WithRSAEncryption")])
def test_hash_signs_ca_certificate_issued_certificates_and_crl(daemon, workdir, hash_name,
                                                               algorithm):
    daemon.create_ca(f"hash {hash_name}", "grant auto")
    assert algorithm in x509_text(der_to_pem(daemon.ca_der()))
    csr = make_csr(workdir, "h", "/CN=h", key="shared")
    pem = extract_certificate(daemon.submit(csr))
    assert f"Signature Algorithm: {algorithm}" in x509_text(pem)
    rc, out = openssl("crl", "-inform", "DER", "-in", daemon.path("mycs.crl"), "-noout",
                      "-text")
    assert rc == 0 and f"Signature Algorithm: {algorithm}" in out, out


def test_show_crypto_pki_certificates_and_export(daemon):
    daemon.create_ca()
    out = daemon.sh("show crypto pki certificates mycs")
    nb, na = cert_validity(der_to_pem(daemon.ca_der()))

    def ios(when):
        return f"{when:%H:%M:%S} UTC {when:%b} {when.day} {when.year}"

    # Line for line, the 15.x / IOS-XE layout (and a blank line after the block).
    assert out.rstrip("\n").split("\n") == [
        "CA Certificate",
        "  Status: Available",
        "  Certificate Serial Number (hex): 01",
        "  Certificate Usage: Signature",
        "  Issuer: ",
        "    cn=mycs",
        "  Subject: ",
        "    cn=mycs",
        "  Validity Date: ",
        f"    start date: {ios(nb)}",
        f"    end   date: {ios(na)}",
        "  Associated Trustpoints: mycs ",
        "  Storage: nvram:mycs#1CA.cer",
    ], out
    assert daemon.sh("show crypto pki certificates") == out
    assert daemon.sh("show crypto pki trustpoints").rstrip("\n").split("\n") == [
        "Trustpoint mycs:",
        "    Subject Name:",
        "    cn=mycs",
        "          Serial Number (hex): 01",
        "    Certificate configured.",
    ]
    out = daemon.sh("configure terminal", "crypto pki export mycs pem terminal",
                    "crypto pki export mycs pem url nvram:exported.pem", "end")
    assert der_to_pem(daemon.ca_der()) in out
    assert open(daemon.path("exported.pem")).read() == der_to_pem(daemon.ca_der())
    out = daemon.sh("configure terminal", "crypto pki export nosuch pem terminal", "end",
                    ok=False)
    assert "% Trustpoint nosuch has no CA certificate." in out


def test_no_forms_restore_defaults(daemon, workdir):
    a, b = os.path.join(workdir, "a"), os.path.join(workdir, "b")
    daemon.cs(f"database url {a}", f"database url crl {b}", f"database url crl publish {a}",
              f"database url crl publish {b}", "database level names",
              "database username admin password secret", "issuer-name CN=x, O=y",
              "lifetime certificate 100", "lifetime ca-certificate 400", "lifetime crl 12",
              "lifetime enrollment-request 10", "cdp-url http://x/crl", "grant none",
              "hash sha512", "auto-rollover", "database archive pem password cisco1234",
              "no grant auto renewal", "limit rsa-key-size minimum 1024",
              "limit pending-requests 50")
    cfg = running_config(daemon)
    assert " auto-rollover 30\n" in cfg
    assert " no grant auto renewal\n limit rsa-key-size minimum 1024\n" in cfg
    assert " limit pending-requests 50\n" in cfg
    # Passwords appear as IOS type 7, never in clear.
    assert " database username admin password 7 06150A225E4B1D\n" in cfg
    assert " database archive pem password 7 110A1016141D5A5E577E\n" in cfg
    assert "secret" not in cfg and "cisco1234" not in cfg
    daemon.cs(f"no database url crl publish {a}")
    cfg = running_config(daemon)
    assert f" database url crl publish {a}\n" not in cfg
    assert f" database url crl publish {b}\n" in cfg
    daemon.cs("no database url", f"no database url crl {b}", f"no database url crl publish {b}",
              "no database level", "no database username", "no issuer-name",
              "no lifetime certificate", "no lifetime ca-certificate", "no lifetime crl",
              "no lifetime enrollment-request", "no cdp-url", "no grant", "no hash",
              "no auto-rollover", "database archive pkcs12", "grant auto renewal",
              "no limit rsa-key-size minimum", "no limit pending-requests")
    section = re.search(r"(?ms)^crypto pki server mycs\n.*?^!", running_config(daemon))
    assert section.group(0) == "crypto pki server mycs\n shutdown\n!"
    show = daemon.show_server()
    assert "Granting mode is: manual" in show and "Issuer name: CN=mycs" in show
    assert "Current storage dir: nvram:" in show


def test_md5_and_sha1_ask_first_and_make_serials_unpredictable(daemon, workdir):
    daemon.create_ca("grant auto")
    out = daemon.cs("hash sha1", "no")
    assert "% SHA-1 signatures are open to chosen-prefix collisions" in out
    assert "Are you sure you want to do this? [yes/no]:" in out
    assert " hash " not in running_config(daemon)
    daemon.cs("hash sha1", "yes")
    assert " hash sha1\n" in running_config(daemon)

    pem = extract_certificate(daemon.submit(make_csr(workdir, "weak", "/CN=weak", key="shared")))
    serial = cert_serial(pem)
    # The sequence number (2: the first after the CA), then 64 random bits.
    assert serial >> 64 == 2, hex(serial)
    assert "Signature Algorithm: sha1WithRSAEncryption" in x509_text(pem)
    full = f"{serial:X}"
    assert f"\n{full} " in daemon.sh("show crypto pki server mycs certificates")

    # The operator revokes by the sequence number, as on IOS; the CRL lists the whole serial.
    daemon.sh("crypto pki server mycs revoke 0x2")
    assert f"Serial Number (hex): {'0' * (len(full) % 2)}{full}\n" in \
        daemon.sh("show crypto pki server mycs crl")
    rc, text = openssl("crl", "-inform", "DER", "-in", daemon.path("mycs.crl"), "-noout", "-text")
    assert rc == 0 and f"Serial Number: {'0' * (len(full) % 2)}{full}" in text, text
    # A whole serial with the wrong random part names no certificate.
    wrong = f"0x{serial ^ 1:X}"
    out = daemon.sh(f"crypto pki server mycs revoke {wrong}", ok=False)
    assert f"% Certificate with serial number {wrong} was not issued by this server." in out

    # The setting survives a restart (the configuration load answers its question), and
    # sha256 brings plain sequence numbers back.
    daemon.sh("write memory")
    daemon.restart()
    assert " hash sha1\n" in running_config(daemon)
    daemon.cs("no hash")
    pem = extract_certificate(daemon.submit(make_csr(workdir, "strong", "/CN=strong",
                                                     key="shared")))
    assert cert_serial(pem) == 3


