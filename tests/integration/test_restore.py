"""The guide's "Restoring a Certificate Server from Certificate Server Backup Files", both
examples, end to end with a real tftp server: back up `.ser`, `.crl` and the archive,
lose the router (NVRAM wiped), restore, `no shutdown`; the server goes on with the same
CA, the next serial number, its revocations and its pending requests."""

import os
import shutil

import pytest

import file_servers
from conftest import Daemon, make_csr, openssl

pytestmark = pytest.mark.skipif(not file_servers.binaries_present(),
                                reason="tftpd-hpa is needed")

PASS = "cisco1234"


@pytest.fixture
def tftp():
    server = file_servers.TftpServer().start()
    yield server
    server.remove()


def crl_serials(der):
    from cryptography import x509
    return sorted(r.serial_number for r in x509.load_der_x509_crl(der))


def run_ca_life(d, workdir):
    """Two certificates granted, the first revoked, a third request pending."""
    for i in range(3):
        d.submit(make_csr(workdir, f"r{i}", f"/CN=router{i}.example.com"))
    d.sh("crypto pki server mycs grant 1", "crypto pki server mycs grant 2")
    d.sh("crypto pki server mycs revoke 2")
    assert "Last certificate issued serial number: 0x3" in d.show_server()
    return d.ca_der()


def wipe(d):
    """The router is lost: scepterd stopped, NVRAM and flash emptied, started again."""
    d.kill()
    for path in (d.nvram, os.path.join(d.root, "flash")):
        shutil.rmtree(path)
        os.makedirs(path, mode=0o700)
    d.start()
    assert "% Certificate server mycs does not exist." in d.sh("show crypto pki server mycs",
                                                                ok=False)


def check_restored(d, ca_der, workdir, storage):
    show = d.show_server()
    assert "State: enabled" in show, show
    assert d.ca_der() == ca_der
    assert "Last certificate issued serial number: 0x3" in show, show
    rows = d.requests()
    assert [r["state"] for r in rows if r["id"] == 3] == ["pending"], rows
    # The revocation came back with the database: a new CRL still lists it.
    d.sh("crypto pki server mycs revoke 3")
    with open(os.path.join(storage, "mycs.crl"), "rb") as f:
        assert crl_serials(f.read()) == [2, 3]
    # The pending request is granted with the next serial number.
    d.sh("crypto pki server mycs grant 3")
    assert "Last certificate issued serial number: 0x4" in d.show_server()


def test_restore_from_a_pkcs12_archive(daemon, workdir, tftp):
    daemon.create_ca()
    ca_der = run_ca_life(daemon, workdir)
    for name in ("mycs.ser", "mycs.crl", "mycs.p12"):
        out = daemon.sh(f"copy nvram:{name} {tftp.url('backup.' + name.split('.')[1])}", "")
        assert "bytes copied in" in out, out
    wipe(daemon)

    # The seed's commands, in order.
    out = daemon.sh(f"copy {tftp.url('backup.ser')} nvram:mycs.ser", "")
    assert "Destination filename [mycs.ser]?" in out and "bytes copied in" in out, out
    out = daemon.sh(f"copy {tftp.url('backup.crl')} nvram:mycs.crl", "")
    assert "bytes copied in" in out, out
    out = daemon.sh("configure terminal",
                    f"crypto pki import mycs pkcs12 {tftp.url('backup.p12')} {PASS}", "end")
    assert "CRYPTO_PKI: Imported PKCS12 file successfully." in out, out
    out = daemon.sh("configure terminal", "crypto pki server mycs", "no shutdown", "end")
    assert "% Certificate Server enabled." in out, out
    check_restored(daemon, ca_der, workdir, daemon.nvram)


def test_restore_from_a_pem_archive_into_flash(daemon, workdir, tftp):
    daemon.create_ca("database url flash:", "database archive pem", archive_password=None)
    flash = os.path.join(daemon.root, "flash")
    ca_der = run_ca_life(daemon, workdir)
    for name in ("mycs.ser", "mycs.crl", "mycs.pem"):
        out = daemon.sh(f"copy flash:{name} {tftp.url('backup.' + name.split('.')[1])}", "")
        assert "bytes copied in" in out, out
    archive = tftp.read("backup.pem").decode()
    cert = archive[:archive.index("-----END CERTIFICATE-----") + 25]
    # IOS's PEM archive carries a traditional "Proc-Type: 4,ENCRYPTED" RSA key in 3DES.
    key_path = os.path.join(workdir, "archive-key.pem")
    with open(key_path, "w") as f:
        f.write(archive[archive.index("-----BEGIN ENCRYPTED PRIVATE KEY-----"):])
    rc, legacy = openssl("rsa", "-in", key_path, "-passin", "pass:prompt-pass1", "-des3",
                         "-traditional", "-passout", f"pass:{PASS}")
    assert rc == 0 and "Proc-Type: 4,ENCRYPTED" in legacy, legacy
    legacy = legacy[legacy.index("-----BEGIN RSA PRIVATE KEY-----"):]
    wipe(daemon)

    out = daemon.sh(f"copy {tftp.url('backup.ser')} flash:mycs.ser", "")
    assert "bytes copied in" in out, out
    out = daemon.sh(f"copy {tftp.url('backup.crl')} flash:mycs.crl", "")
    assert "bytes copied in" in out, out
    out = daemon.sh("configure terminal", f"crypto ca import mycs pem usage-keys terminal {PASS}",
                    *cert.splitlines(), "",
                    *legacy.strip().splitlines(), "quit",
                    *cert.splitlines(), "",
                    "quit", "end")
    assert "% Enter PEM-formatted CA certificate." in out, out
    assert "% Enter PEM-formatted encrypted private SIGNATURE key." in out
    assert "% Enter PEM-formatted SIGNATURE certificate." in out
    assert "% Enter PEM-formatted encrypted private ENCRYPTION key." in out
    assert "% PEM files import succeeded." in out, out
    out = daemon.sh("configure terminal", "crypto pki server mycs", "database url flash:",
                    "no shutdown", "end")
    assert "% Certificate Server enabled." in out, out
    check_restored(daemon, ca_der, workdir, flash)
    # Written back as crypto pki.
    assert "crypto ca" not in daemon.sh("show running-config")
