"""Revocation and the CRL: `revoke` in its three number bases, `unrevoke`, the CRL file and
`info crl`, the CRL timer, the database levels and storage/publish locations, and what
happens when storage fails (the server disables itself with the reason and recovers by itself)."""

import datetime
import os
import re
import shutil
import subprocess
import pytest

from conftest import (openssl, make_csr, extract_certificate, cert_serial, wait_for, write,
                      openssl_date)
from scep_helpers import ScepServer, wait_timer_ticks


def issue(d, workdir, n):
    """Issues n certificates (grant auto); returns their PEMs by serial."""
    out = {}
    for i in range(n):
        csr = make_csr(workdir, f"c{i}", f"/O=Example/CN=c{i}", key="ec:prime256v1")
        pem = extract_certificate(d.submit(csr))
        out[cert_serial(pem)] = pem
    return out


def crl_text(d, path=None):
    path = path or d.path("mycs.crl")
    rc, out = openssl("crl", "-inform", "DER", "-in", path, "-CAfile", d.ca_pem_file(),
                      "-verify", "-noout", "-text")
    assert rc == 0 and "verify OK" in out, out
    return out


def crl_number(text):
    m = re.search(r"X509v3 CRL Number: \n\s+(\d+)", text)
    return int(m.group(1)) if m else None


def crl_times(text):
    this = openssl_date(re.search(r"Last Update: (.*)", text).group(1))
    nxt = openssl_date(re.search(r"Next Update: (.*)", text).group(1))
    return this, nxt


def revoked_serials(text):
    return [int(s, 16) for s in re.findall(r"Serial Number: ([0-9A-F]+)", text)]


def verify_crl_check(d, workdir, pem):
    leaf = write(os.path.join(workdir, "leaf.pem"), pem)
    crl_pem = os.path.join(workdir, "crl.pem")
    rc, out = openssl("crl", "-inform", "DER", "-in", d.path("mycs.crl"), "-out", crl_pem)
    assert rc == 0, out
    return openssl("verify", "-crl_check", "-CAfile", d.ca_pem_file(), "-CRLfile", crl_pem,
                   leaf)


@pytest.fixture
def ca(daemon):
    daemon.create_ca("grant auto", "lifetime crl 24")
    return daemon


def test_revoke_in_hex_octal_and_decimal(ca, workdir):
    certs = issue(ca, workdir, 8)  # serials 2..9
    first = crl_text(ca)
    assert revoked_serials(first) == []
    number = crl_number(first)
    rc, out = verify_crl_check(ca, workdir, certs[3])
    assert rc == 0, out

    expected = []
    for text, serial in (("0x3", 3), ("010", 8), ("5", 5), ("0X9", 9)):
        ca.sh(f"crypto pki server mycs revoke {text}")
        expected.append(serial)
        crl = crl_text(ca)
        assert crl_number(crl) > number
        number = crl_number(crl)
        assert sorted(revoked_serials(crl)) == sorted(expected)
        rc, out = verify_crl_check(ca, workdir, certs[serial])
        assert rc != 0 and "certificate revoked" in out, out
    rc, out = verify_crl_check(ca, workdir, certs[4])
    assert rc == 0, out
    listing = ca.sh("show crypto pki server mycs certificates")
    assert re.search(r"(?m)^3\s.*\(revoked\)$", listing)
    assert not re.search(r"(?m)^4\s.*\(revoked\)$", listing)


def test_revoke_errors(ca, workdir):
    issue(ca, workdir, 1)
    out = ca.sh("crypto pki server mycs revoke 0x77", ok=False)
    assert "% Certificate with serial number 0x77 was not issued by this server." in out
    ca.sh("crypto pki server mycs revoke 2")
    before = open(ca.path("mycs.crl"), "rb").read()
    out = ca.sh("crypto pki server mycs revoke 0x2", ok=False)
    assert "% Certificate with serial number 0x2 is already revoked." in out
    assert open(ca.path("mycs.crl"), "rb").read() == before
    out = ca.sh("crypto pki server mycs revoke 1", ok=False)
    assert "% The CA certificate cannot be revoked." in out
    for bad in ("0xZZ", "09", "abc", "-1"):
        out = ca.sh(f"crypto pki server mycs revoke {bad}", ok=False)
        assert "% Invalid input detected at '^' marker." in out, bad


def test_unrevoke_takes_the_certificate_off_the_crl(daemon, workdir):
    scep = ScepServer(daemon, workdir).listen().create_ca("grant auto", "lifetime crl 24")
    certs = issue(daemon, workdir, 2)  # serials 2 and 3
    daemon.sh("crypto pki server mycs revoke 2", "crypto pki server mycs revoke 0x3")
    revoked = crl_text(daemon)
    assert sorted(revoked_serials(revoked)) == [2, 3]
    rc, out = verify_crl_check(daemon, workdir, certs[2])
    assert rc != 0 and "certificate revoked" in out, out

    daemon.sh("crypto pki server mycs unrevoke 0x2")
    text = crl_text(daemon)
    assert revoked_serials(text) == [3]
    assert crl_number(text) > crl_number(revoked)
    rc, out = verify_crl_check(daemon, workdir, certs[2])
    assert rc == 0, out
    listing = daemon.sh("show crypto pki server mycs certificates")
    assert not re.search(r"(?m)^2\s.*\(revoked\)$", listing), listing
    assert re.search(r"(?m)^3\s.*\(revoked\)$", listing), listing
    # GetCRL serves the new CRL.
    r = scep.get("operation=GetCRL")
    assert r.status == 200
    assert r.body == open(daemon.path("mycs.crl"), "rb").read()
    served = write(os.path.join(workdir, "served.crl"), r.body, "wb")
    assert revoked_serials(crl_text(daemon, served)) == [3]

    out = daemon.sh("crypto pki server mycs unrevoke 2", ok=False)
    assert "% Certificate with serial number 0x2 is not revoked." in out, out
    out = daemon.sh("crypto pki server mycs unrevoke 0x77", ok=False)
    assert "% Certificate with serial number 0x77 was not issued by this server." in out, out
    assert open(daemon.path("mycs.crl"), "rb").read() == r.body
    # It can be revoked again.
    daemon.sh("crypto pki server mycs revoke 2")
    assert sorted(revoked_serials(crl_text(daemon))) == [2, 3]


def test_info_crl_layout_and_lifetime(ca, workdir):
    issue(ca, workdir, 2)
    before = ca.now()
    ca.sh("crypto pki server mycs revoke 3")
    after = ca.now()
    out = ca.sh("crypto pki server mycs info crl")
    size = os.path.getsize(ca.path("mycs.crl"))
    assert re.fullmatch(
        r"Certificate Revocation List:\n"
        r"    Issuer: cn=mycs\n"
        r"    This Update: (\d\d:\d\d:\d\d UTC \w{3} \d{1,2} \d{4})\n"
        r"    Next Update: (\d\d:\d\d:\d\d UTC \w{3} \d{1,2} \d{4})\n"
        r"    CRL Number: \d+\n"
        r"    Number of CRL entries: 1\n"
        rf"    CRL size: {size} bytes\n"
        r"    Serial Number \(hex\): 03\n"
        r"    Revocation Date: \d\d:\d\d:\d\d UTC \w{3} \d{1,2} \d{4}\n", out), out
    assert ca.sh("show crypto pki server mycs crl") == out
    this, nxt = crl_times(crl_text(ca))
    assert nxt - this == datetime.timedelta(hours=24)
    # issued by the revocation (the server clock shows whole seconds)
    assert before - datetime.timedelta(seconds=1) <= this <= after + datetime.timedelta(seconds=1)
    nu = re.search(r"CRL NextUpdate timer: (.*)", ca.show_server()).group(1)
    assert nu == f"{nxt:%H:%M:%S} UTC {nxt:%b} {nxt.day} {nxt.year}"


def test_crl_survives_restart(ca, workdir):
    issue(ca, workdir, 2)
    ca.sh("crypto pki server mycs revoke 2")
    info = ca.sh("crypto pki server mycs info crl")
    der = open(ca.path("mycs.crl"), "rb").read()
    ca.sh("write memory")
    ca.restart()
    assert ca.sh("crypto pki server mycs info crl") == info
    assert open(ca.path("mycs.crl"), "rb").read() == der
    # a revocation after the restart continues the CRL numbers
    ca.sh("crypto pki server mycs revoke 3")
    number = int(re.search(r"CRL Number: (\d+)", info).group(1))
    assert crl_number(crl_text(ca)) == number + 1


def test_timer_reissues_the_crl_before_it_expires(ca, workdir):
    issue(ca, workdir, 1)
    ca.sh("crypto pki server mycs revoke 2")
    text = crl_text(ca)
    number, (this, nxt) = crl_number(text), crl_times(text)
    ca.set_clock(nxt - datetime.timedelta(hours=2))

    def reissued():
        t = crl_text(ca)
        return t if crl_number(t) > number else None
    fresh = wait_for(reissued, what="a new CRL from the timer")
    this2, next2 = crl_times(fresh)
    assert this2 > this and next2 > nxt
    assert next2 - this2 == datetime.timedelta(hours=24)
    assert revoked_serials(fresh) == [2]
    assert "Status: enabled" in ca.show_server()


def test_stale_crl_is_replaced_at_start(ca, workdir):
    text = crl_text(ca)
    nxt = crl_times(text)[1]
    ca.sh("write memory")
    ca.stop()
    # the daemon is down while the CRL expires
    ca.start()
    ca.set_clock(nxt + datetime.timedelta(hours=1))
    ca.restart()
    wait_for(lambda: crl_times(crl_text(ca))[1] > nxt + datetime.timedelta(hours=1),
             what="a current CRL")


@pytest.mark.parametrize("level,cnm,cer", [("minimal", False, False), ("names", True, False),
                                           ("complete", True, True)])
def test_database_levels(daemon, workdir, level, cnm, cer):
    daemon.create_ca("grant auto", f"database level {level}")
    certs = issue(daemon, workdir, 2)
    show = daemon.show_server()
    assert {"minimal": "Minimum - no cert data written to storage",
            "names": "Names - all certificate names written as <serialnum>.cnm",
            "complete": "Complete - all issued certs written as <serialnum>.cer"}[level] in show
    for serial, pem in certs.items():
        assert os.path.exists(daemon.path(f"{serial:X}.cnm")) == cnm
        assert os.path.exists(daemon.path(f"{serial:X}.cer")) == cer
        if cnm:
            text = open(daemon.path(f"{serial:X}.cnm")).read()
            assert f"0x{serial:X}" in text and f"cn=c{serial - 2},o=Example" in text
        if cer:
            with open(daemon.path(f"{serial:X}.cer"), "rb") as f:
                raw = f.read()
            want = subprocess.run(["openssl", "x509", "-outform", "DER"], input=pem.encode(),
                                  capture_output=True, check=True).stdout
            assert raw == want


def test_storage_and_publish_locations(daemon, workdir):
    primary = os.path.join(workdir, "primary")
    crls = os.path.join(workdir, "crls")
    pub1 = os.path.join(workdir, "pub1")
    pub2 = os.path.join(workdir, "pub2")
    for p in (primary, crls, pub1, pub2):
        os.makedirs(p)
    daemon.create_ca("grant auto", f"database url {primary}", f"database url crl {crls}",
                     f"database url crl publish {pub1}", f"database url crl publish {pub2}",
                     "database level complete", f"database url cnm publish {pub1}")
    show = daemon.show_server()
    assert f"Current primary storage dir: {primary}" in show
    assert f"Current storage dir for .crl files: {crls}" in show
    assert os.path.exists(os.path.join(primary, "mycs.ser"))
    assert os.path.exists(os.path.join(primary, "mycs.p12"))
    assert not os.path.exists(os.path.join(primary, "mycs.crl"))
    assert not os.path.exists(daemon.path("mycs.ser"))
    issue(daemon, workdir, 1)
    daemon.sh("crypto pki server mycs revoke 2")
    main = open(os.path.join(crls, "mycs.crl"), "rb").read()
    for p in (pub1, pub2):
        assert open(os.path.join(p, "mycs.crl"), "rb").read() == main
    assert os.path.exists(os.path.join(primary, "2.cer"))
    assert os.path.exists(os.path.join(primary, "2.cnm"))
    assert os.path.exists(os.path.join(pub1, "2.cnm"))
    assert revoked_serials(crl_text(daemon, os.path.join(pub2, "mycs.crl"))) == [2]
    cfg = daemon.sh("show running-config")
    for line in (f" database url crl {crls}", f" database url crl publish {pub1}",
                 f" database url crl publish {pub2}", f" database url cnm publish {pub1}"):
        assert line + "\n" in cfg


def test_unusable_storage_fails_enable_and_recovers(daemon, workdir):
    store = os.path.join(workdir, "store")
    write(store, "a file where the directory should be")
    out = daemon.sh("configure terminal", "crypto pki server mycs",
                    "database archive pkcs12 password cisco1234", f"database url {store}",
                    "no shutdown", "yes", "end", ok=False)
    assert "% Storage inaccessible" in out, out
    show = daemon.show_server()
    assert "Status: disabled, Storage inaccessible" in show
    assert "State: check failed" in show
    os.remove(store)
    os.makedirs(store)
    wait_for(lambda: "Status: enabled" in daemon.show_server(), what="recovery")
    assert os.path.exists(os.path.join(store, "mycs.ser"))


def test_missing_storage_directory_is_not_created(daemon, workdir):
    store = os.path.join(workdir, "typo")
    out = daemon.sh("configure terminal", "crypto pki server mycs",
                    "database archive pkcs12 password cisco1234", f"database url {store}",
                    "no shutdown", "yes", "end", ok=False)
    assert f"% Storage inaccessible: storage {store} ({store}) is not accessible: No such " \
           "file or directory" in out, out
    assert f"Status: disabled, Storage inaccessible: storage {store}" in daemon.show_server()
    assert not os.path.exists(store)
    os.makedirs(store)
    wait_for(lambda: "Status: enabled" in daemon.show_server(), what="recovery")
    assert os.path.exists(os.path.join(store, "mycs.ser"))


def test_crl_write_failure_disables_and_recovers(daemon, workdir):
    crls = os.path.join(workdir, "crls")
    os.makedirs(crls)
    daemon.create_ca("grant auto", f"database url crl {crls}")
    issue(daemon, workdir, 2)
    # the CRL directory goes away and a file takes its place
    os.rename(crls, crls + ".moved")
    write(crls, "not a directory")
    out = daemon.sh("crypto pki server mycs revoke 2", ok=False)
    assert "% The certificate is revoked, but the CRL could not be written" in out
    show = daemon.show_server()
    assert "Status: disabled, CRL could not be written" in show
    csr = make_csr(workdir, "x", "/CN=x", key="ec:prime256v1")
    out = daemon.submit(csr, ok=False)
    assert "not enabled" in out
    # fixed: the server comes back by itself and the CRL lists the revocation
    os.remove(crls)
    os.rename(crls + ".moved", crls)
    wait_for(lambda: "Status: enabled" in daemon.show_server(), what="recovery")
    assert revoked_serials(crl_text(daemon, os.path.join(crls, "mycs.crl"))) == [2]
    assert "% Granted certificate" in daemon.submit(csr)


def test_database_url_change_message(daemon, workdir):
    other = os.path.join(workdir, "other")
    os.makedirs(other)
    daemon.create_ca()
    daemon.cs("shutdown")
    out = daemon.cs(f"database url {other}")
    assert "% Server database url was changed. You need to move the\n" \
           "% existing database to the new location." in out
    out = daemon.cs("no shutdown", ok=False)
    assert "move the existing database to the new location" in out
    assert "Status: disabled" in daemon.show_server()
    # moving the database there brings it back
    for f in os.listdir(daemon.nvram):
        if f.startswith("mycs.") and f != "mycs.p12":
            shutil.move(daemon.path(f), os.path.join(other, f))
    wait_for(lambda: "Status: enabled" in daemon.show_server(), what="enabled in new location")


def test_certificate_file_failure_disables_until_storage_is_back(daemon, workdir):
    crt = os.path.join(workdir, "crt")
    os.makedirs(crt)
    daemon.create_ca("grant auto", "database level complete", f"database url crt {crt}")
    os.rmdir(crt)
    write(crt, "not a directory")
    # the certificate is in the database, so it is handed out; then the server stops
    out = daemon.submit(make_csr(workdir, "a", "/CN=a", key="ec:prime256v1"))
    assert "% Granted certificate" in out
    show = daemon.show_server()
    assert "Status: disabled, cannot write certificate files" in show
    wait_timer_ticks(daemon, 2)  # the storage is still broken, so it stays down
    assert "Status: disabled, cannot write certificate files" in daemon.show_server()
    os.remove(crt)
    os.makedirs(crt)
    wait_for(lambda: "Status: enabled" in daemon.show_server(), what="recovery")
    issue(daemon, workdir, 1)
    assert os.path.exists(os.path.join(crt, "3.cer"))
