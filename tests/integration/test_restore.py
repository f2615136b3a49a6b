"""The guide's "Restoring a Certificate Server from Certificate Server Backup Files", both
examples, end to end with a real tftp server: back up `.ser`, `.crl` and the archive,
lose the router (NVRAM wiped), restore, `no shutdown`; the server goes on with the same
CA, the next serial number, its revocations and its pending requests."""

import os
import shutil

import pytest

import file_servers
from conftest import Daemon, make_csr, openssl
from seed_shapes import assert_guide_shape

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


def check_restored(d, ca_der, workdir, storage, guide_example):
    show = d.show_server()
    assert "State: enabled" in show, show
    assert_guide_shape(guide_example, show)  # the guide's restored server
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
                    f"crypto pki import mycs pkcs12 {tftp.url('backup.p12')} {PASS}", "", "end")
    assert "Source filename [backup.p12]?" in out, out
    assert "CRYPTO_PKI: Imported PKCS12 file successfully." in out, out
    out = daemon.sh("configure terminal", "crypto pki server mycs", "no shutdown", "end")
    assert "% Certificate Server enabled." in out, out
    check_restored(daemon, ca_der, workdir, daemon.nvram, 1558)


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
    check_restored(daemon, ca_der, workdir, flash, 1595)
    # Written back as crypto pki.
    assert "crypto ca" not in daemon.sh("show running-config")


def make_ios_ca(workdir, label, revoked, crl_number):
    """A CA as an IOS router leaves it: its key and certificate in a PKCS#12 made the old
    way (3DES key bag, RC2-40 certificate bag, SHA-1 MAC: `openssl pkcs12 -legacy`), and
    its last CRL (DER) revoking `revoked`."""
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, label)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(now - datetime.timedelta(days=400))
            .not_valid_after(now + datetime.timedelta(days=700))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False,
                                         False), critical=True)
            .sign(key, hashes.SHA256()))
    crl = x509.CertificateRevocationListBuilder().issuer_name(name) \
        .last_update(now - datetime.timedelta(hours=1)) \
        .next_update(now + datetime.timedelta(days=7)) \
        .add_extension(x509.CRLNumber(crl_number), critical=False)
    for serial in revoked:
        crl = crl.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial)
            .revocation_date(now - datetime.timedelta(days=2)).build())
    crl = crl.sign(key, hashes.SHA256())
    pem_cert = os.path.join(workdir, "ios-ca.pem")
    pem_key = os.path.join(workdir, "ios-ca.key")
    with open(pem_cert, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(pem_key, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.TraditionalOpenSSL,
                                  serialization.NoEncryption()))
    p12 = os.path.join(workdir, f"{label}.p12")
    rc, out = openssl("pkcs12", "-export", "-legacy", "-in", pem_cert, "-inkey", pem_key,
                      "-out", p12, "-passout", f"pass:{PASS}")
    assert rc == 0, out
    rc, info = openssl("pkcs12", "-info", "-noout", "-legacy", "-in", p12, "-passin",
                       f"pass:{PASS}")
    assert "RC2" in info and "TripleDES" in info and "MAC: sha1" in info, info
    return cert, p12, crl.public_bytes(serialization.Encoding.DER)


def test_moving_an_ios_ca_to_scepterd(daemon, workdir, tftp):
    """The guide's "Moving a Cisco IOS CA to Scepter": the router's archive and CRL, a
    serial-number above the router's last serial; the fleet's certificates stay valid,
    the router's revocations stay revoked, and new serial numbers do not collide."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    cert, p12, crl = make_ios_ca(workdir, "iosca", revoked=[3, 5], crl_number=7)
    shutil.copy(p12, tftp.path("iosca.p12"))
    with open(tftp.path("iosca.crl"), "wb") as f:
        f.write(crl)
    for name in ("iosca.p12", "iosca.crl"):  # readable by the tftp server's account
        os.chmod(tftp.path(name), 0o644)

    out = daemon.sh("configure terminal",
                    f"crypto pki import iosca pkcs12 {tftp.url('iosca.p12')} {PASS}", "",
                    "end")
    assert "CRYPTO_PKI: Imported PKCS12 file successfully." in out, out
    daemon.sh(f"copy {tftp.url('iosca.crl')} nvram:", "")
    # Without serial-number, scepterd does not guess where the serials go on.
    out = daemon.sh("configure terminal", "crypto pki server iosca", "grant auto",
                    "no shutdown", "end", ok=None)
    show = daemon.show_server("iosca")
    assert 'set \\"serial-number\\"' in show or 'set "serial-number"' in show, show
    # A serial-number below what the CRL revokes is refused with the reason.
    daemon.cs("shutdown", "serial-number 4", "no shutdown", label="iosca", ok=None)
    assert "The CRL revokes serial number 0x5, above serial-number 0x4" in \
        daemon.show_server("iosca")
    daemon.cs("shutdown", "serial-number 0x10", "no shutdown", label="iosca", ok=None)
    show = daemon.show_server("iosca")
    assert "State: enabled" in show, show
    # The router's last serial is the last issued until scepterd issues one.
    assert "Last certificate issued serial number: 0x10" in show, show
    assert daemon.ca_der("iosca") == cert.public_bytes(serialization.Encoding.DER)
    assert " serial-number 0x10\n" in daemon.sh("show running-config")

    # The router's CRL entries are in scepterd's CRL; a new certificate gets 0x11.
    def current_crl():
        with open(daemon.path("iosca.crl"), "rb") as f:
            return x509.load_der_x509_crl(f.read())
    assert sorted(r.serial_number for r in current_crl()) == [3, 5]
    out = daemon.submit(make_csr(workdir, "n1", "/CN=new1.example.com"), label="iosca")
    assert "Last certificate issued serial number: 0x11" in daemon.show_server("iosca"), \
        out + daemon.show_server("iosca") + daemon.sh("crypto pki server iosca info requests")
    # A certificate the router issued is revoked here too, and so is a new one.
    daemon.sh("crypto pki server iosca revoke 0x4", "crypto pki server iosca revoke 0x11")
    out = daemon.sh("crypto pki server iosca revoke 0x4", ok=False)
    assert "already revoked" in out, out
    out = daemon.sh("crypto pki server iosca revoke 0x12", ok=False)
    crl_now = current_crl()
    assert sorted(r.serial_number for r in crl_now) == [3, 4, 5, 17]
    assert crl_now.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number > 7
    # All of it survives a restart.
    daemon.sh("write memory")
    daemon.restart()
    assert "State: enabled" in daemon.show_server("iosca")
    assert sorted(r.serial_number for r in current_crl()) == [3, 4, 5, 17]
    # A larger serial-number later raises the next serial; a smaller one changes nothing.
    daemon.cs("shutdown", "serial-number 0x20", "no shutdown", label="iosca")
    assert "Last certificate issued serial number: 0x20" in daemon.show_server("iosca")
    daemon.submit(make_csr(workdir, "n2", "/CN=new2.example.com"), label="iosca")
    assert "Last certificate issued serial number: 0x21" in daemon.show_server("iosca")
    daemon.cs("shutdown", "serial-number 0x5", "no shutdown", label="iosca")
    daemon.submit(make_csr(workdir, "n3", "/CN=new3.example.com"), label="iosca")
    assert "Last certificate issued serial number: 0x22" in daemon.show_server("iosca")
