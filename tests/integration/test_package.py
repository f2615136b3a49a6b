"""The Debian package: built with cpack from the build directory under test, installed
with dpkg, its unit checked with systemd-analyze, and scepterd started from the unit's
ExecStart line under the unit's restrictions without systemd (systemd is not PID 1
here): a private mount namespace with / read-only, the state and runtime directories
writable and a private /tmp (unshare), then the unit's user, group, capabilities and
no-new-privileges (setpriv). A CA is configured through the installed shell as root and
strongSwan enrols over 127.0.0.1. The package is purged at the end, user and all.

Root only (CI runs it on a throwaway machine); skipped when a scepter package, user or
state directory is already there, so that nobody's CA is touched."""

import gzip
import os
import pwd
import grp
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

import conftest
from conftest import BIN_DIR, LABEL, openssl
from scep_helpers import SCEP_PATH, StrongSwan, cert_serial_of, verify, wait_listening

UNIT = "/lib/systemd/system/scepterd.service"
CAP_NET_BIND_SERVICE = 1 << 10
FILES = [
    "/usr/sbin/scepterd", "/usr/bin/scepter", UNIT,
    "/usr/share/man/man8/scepterd.8.gz", "/usr/share/man/man1/scepter.1.gz",
    "/usr/share/bash-completion/completions/scepter",
    "/usr/share/bash-completion/completions/scepterd",
    "/usr/share/doc/scepter/user-guide.md.gz",
]
TOOLS = ["cpack", "dpkg", "dpkg-deb", "dpkg-shlibdeps", "unshare", "setpriv", "nsenter",
         "systemd-analyze", "groff", "pki"]


def run(*args, check=True, **kw):
    p = subprocess.run(args, capture_output=True, text=True, timeout=120, **kw)
    if check:
        assert p.returncode == 0, f"{args} rc={p.returncode}:\n{p.stdout}{p.stderr}"
    return p


def preconditions():
    """Why this test cannot run here, or None."""
    if os.geteuid() != 0:
        return "installs a package: root only"
    missing = [t for t in TOOLS if not shutil.which(t)]
    if missing:
        return f"missing tools: {' '.join(missing)}"
    if not os.path.exists(os.path.join(BIN_DIR, "CPackConfig.cmake")):
        return f"no CPackConfig.cmake in {BIN_DIR}"
    status = run("dpkg-query", "-W", "-f=${Status}", "scepter", check=False).stdout
    if "installed" in status or "config-files" in status:
        return f"a scepter package is already on this machine ({status.strip()})"
    for what, present in [("user scepterd", _exists(pwd.getpwnam, "scepterd")),
                          ("group scepterd", _exists(grp.getgrnam, "scepterd")),
                          ("/var/lib/scepterd", os.path.exists("/var/lib/scepterd")),
                          ("/run/scepterd", os.path.exists("/run/scepterd"))]:
        if present:
            return f"{what} already exists: not ours to take over"
    return None


def _exists(lookup, name):
    try:
        lookup(name)
        return True
    except KeyError:
        return False


def purge():
    run("dpkg", "--purge", "scepter", check=False)
    # Whatever a failed purge left behind.
    if _exists(pwd.getpwnam, "scepterd"):
        run("userdel", "scepterd", check=False)
    if _exists(grp.getgrnam, "scepterd"):
        run("groupdel", "scepterd", check=False)
    shutil.rmtree("/var/lib/scepterd", ignore_errors=True)
    shutil.rmtree("/run/scepterd", ignore_errors=True)


@pytest.fixture(scope="module")
def package():
    why = preconditions()
    if why:
        pytest.skip(why)
    out = tempfile.mkdtemp(prefix="scepter-it-deb-")
    try:
        run("cpack", "-G", "DEB", "-B", out, "--config",
            os.path.join(BIN_DIR, "CPackConfig.cmake"), cwd=BIN_DIR)
        [deb] = [f for f in os.listdir(out) if f.endswith(".deb")]
        deb = os.path.join(out, deb)
        # Only what the test installed is purged: the installation is inside the try.
        try:
            run("dpkg", "-i", deb, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
            yield deb
        finally:
            purge()
    finally:
        shutil.rmtree(out, ignore_errors=True)


def service_settings(path=UNIT):
    """The [Service] section of a unit file: name -> list of values (in order), with
    continuation lines joined."""
    settings, section, pending = {}, None, ""
    with open(path) as f:
        for raw in f:
            line = pending + raw.rstrip("\n")
            if line.endswith("\\"):
                pending = line[:-1] + " "
                continue
            pending = ""
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line.strip("[]")
                continue
            if section == "Service":
                key, _, value = line.partition("=")
                settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def one(settings, key, default=None):
    values = settings.get(key)
    return values[-1] if values else default


def yes(settings, key):
    return one(settings, key, "no").lower() in ("yes", "true", "on", "1")


def caps_arg(names):
    """CAP_NET_BIND_SERVICE ... -> setpriv's "-all,+net_bind_service"."""
    caps = [c.lower().removeprefix("cap_") for value in names for c in value.split()]
    return ",".join(["-all"] + [f"+{c}" for c in caps])


def mount_points():
    """Mount points as this process sees them (octal escapes decoded), outermost first."""
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            field = line.split()[4]
            points.append(field.encode().decode("unicode_escape"))
    return points


def sandbox_script(s, user, group, state_dirs, runtime_dirs):
    """The shell lines run as root in the new mount namespace before setpriv: what
    ProtectSystem=strict, ProtectHome, PrivateTmp, PrivateDevices, StateDirectory and
    RuntimeDirectory do (the parts of them that matter to scepterd)."""
    lines = ["set -e"]
    q = shlex.quote
    if yes(s, "PrivateTmp"):
        lines += ["mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp",
                  "mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /var/tmp"]
    if yes(s, "PrivateDevices"):
        # A /dev with the pseudo-devices only, built aside and moved into place.
        lines += ["mkdir /tmp/.dev", "mount -t tmpfs -o mode=755,nosuid tmpfs /tmp/.dev"]
        for dev in ["null", "zero", "full", "random", "urandom", "tty"]:
            lines += [f"touch /tmp/.dev/{dev}", f"mount --bind /dev/{dev} /tmp/.dev/{dev}"]
        lines += ["mkdir /tmp/.dev/shm", "mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp/.dev/shm",
                  "mount --move /tmp/.dev /dev"]
    if one(s, "ProtectSystem") == "strict":
        skip = ("/proc", "/sys", "/dev", "/tmp", "/var/tmp")
        for mp in mount_points():
            if any(mp == p or mp.startswith(p + "/") for p in skip):
                continue
            lines.append(f"mount -o remount,bind,ro {q(mp)} 2>/dev/null || true")
    for d in state_dirs + runtime_dirs:
        lines += [f"mount --bind {q(d)} {q(d)}", f"mount -o remount,bind,rw {q(d)}"]
    if yes(s, "ProtectHome"):
        for d in ["/home", "/root", "/run/user"]:
            if os.path.isdir(d):
                lines.append(f"mount -t tmpfs -o mode=000,ro tmpfs {q(d)}")
    return "\n".join(lines)


def make_dir(path, user, group, mode):
    os.makedirs(path, exist_ok=True)
    os.chown(path, pwd.getpwnam(user).pw_uid, grp.getgrnam(group).gr_gid)
    os.chmod(path, mode)


class PackagedDaemon(conftest.Daemon):
    """scepterd as the unit runs it, driven through the installed /usr/bin/scepter as
    root. The conftest helpers (sh, create_ca, requests, ...) work unchanged."""

    def __init__(self, root):
        self.root = root
        self.settings = service_settings()
        self.nvram = "/var/lib/scepterd/nvram"
        self.socket = "/run/scepterd/scepterd.sock"
        self.log_path = os.path.join(root, "scepterd.log")
        self.proc = None

    def command(self):
        s = self.settings
        user, group = one(s, "User"), one(s, "Group")
        state = [f"/var/lib/{d}" for v in s.get("StateDirectory", []) for d in v.split()]
        runtime = [f"/run/{d}" for v in s.get("RuntimeDirectory", []) for d in v.split()]
        for d in state:
            make_dir(d, user, group, int(one(s, "StateDirectoryMode", "0755"), 8))
        for d in runtime:
            make_dir(d, user, group, int(one(s, "RuntimeDirectoryMode", "0755"), 8))
        [exec_start] = s["ExecStart"]
        argv = shlex.split(exec_start.lstrip("-@:+!"))
        setpriv = ["setpriv", "--reuid", user, "--regid", group, "--init-groups"]
        if s.get("CapabilityBoundingSet"):
            setpriv += ["--bounding-set", caps_arg(s["CapabilityBoundingSet"])]
        if s.get("AmbientCapabilities"):
            ambient = caps_arg(s["AmbientCapabilities"])
            setpriv += ["--inh-caps", ambient, "--ambient-caps", ambient]
        if yes(s, "NoNewPrivileges"):
            setpriv.append("--no-new-privs")
        umask = one(s, "UMask", "0022")
        script = (sandbox_script(s, user, group, state, runtime) +
                  f"\numask {umask}\nexec {shlex.join(setpriv + ['--'] + argv)}\n")
        # systemd's environment is nearly empty: no SCEPTER_PASSWORD from ours.
        return ["env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8",
                "unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script]

    def start(self, extra=()):
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                     cwd="/")
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("scepterd exited: " + self.log())
            if os.path.exists(self.socket):
                rc, _ = self.run_raw(["-c", "show clock"], check=False)
                if rc == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("scepterd did not start: " + self.log())

    def run_raw(self, args, check=True, stdin=None, timeout=120, prefix=()):
        p = subprocess.run([*prefix, "/usr/bin/scepter", *args], input=stdin,
                           capture_output=True, text=True, timeout=timeout)
        if check and p.returncode not in (0, 1):
            raise RuntimeError(f"scepter failed rc={p.returncode}: {p.stdout}{p.stderr}")
        return p.returncode, p.stdout + p.stderr

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def status(self):
        """/proc/PID/status of scepterd: name -> value."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            return dict(l.rstrip("\n").split(":\t", 1) for l in f if ":\t" in l)


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="scepter-it-pkg-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def service(package, workdir):
    d = PackagedDaemon(workdir)
    d.start()
    yield d
    d.stop()


def held_low_port():
    """A free port below 1024 on 127.0.0.1, held without listening (SO_REUSEADDR, as
    conftest's reserved_port): scepterd binds it too, which needs CAP_NET_BIND_SERVICE."""
    for port in range(990, 600, -1):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return s
        except OSError:
            s.close()
    pytest.skip("no free port below 1024 on 127.0.0.1")


def test_package_contents_and_unit(package):
    for path in FILES:
        assert os.path.isfile(path), path
    assert os.access("/usr/sbin/scepterd", os.X_OK) and os.access("/usr/bin/scepter", os.X_OK)
    info = run("dpkg-deb", "-f", package, "Package", "Section", "Depends").stdout
    assert "Package: scepter" in info and "Section: admin" in info, info
    assert "libssl3" in info, info  # dpkg-shlibdeps ran
    # The maintainer scripts made a system user with its home in the state directory.
    user = pwd.getpwnam("scepterd")
    assert user.pw_uid < 1000 and user.pw_dir == "/var/lib/scepterd"
    assert user.pw_gid == grp.getgrnam("scepterd").gr_gid
    p = run("systemd-analyze", "verify", UNIT, check=False)
    assert p.returncode == 0 and not p.stderr.strip(), p.stdout + p.stderr
    for page in ["/usr/share/man/man8/scepterd.8.gz", "/usr/share/man/man1/scepter.1.gz"]:
        with gzip.open(page, "rt") as f:
            p = run("groff", "-man", "-Tutf8", "-ww", "-z", input=f.read())
        assert not p.stderr, p.stderr
    p = run("bash", "-c", "source /usr/share/bash-completion/completions/scepterd; "
            "COMP_WORDS=(scepterd --socket-m); COMP_CWORD=1; _scepterd; echo ${COMPREPLY[*]}")
    assert p.stdout.strip() == "--socket-mode", p.stdout
    # Every option the completion offers is one the daemon takes.
    p = run("/usr/sbin/scepterd", "--help")
    for flag in ["--nvram", "--flash", "--socket", "--socket-mode", "--password-file", "--log",
                 "--audit-checkpoint-seconds"]:
        assert flag in p.stdout, flag


def test_service_enrols_a_client_under_the_units_restrictions(service, workdir):
    d = service
    s = d.settings
    # Its user, and CAP_NET_BIND_SERVICE alone, for good.
    st = d.status()
    uid, gid = pwd.getpwnam("scepterd").pw_uid, grp.getgrnam("scepterd").gr_gid
    assert st["Uid"].split() == [str(uid)] * 4, st["Uid"]
    assert st["Gid"].split() == [str(gid)] * 4, st["Gid"]
    for field in ["CapEff", "CapPrm", "CapBnd", "CapAmb"]:
        assert int(st[field], 16) == CAP_NET_BIND_SERVICE, (field, st[field])
    assert st["NoNewPrivs"].strip() == "1"
    assert one(s, "User") == "scepterd" and one(s, "ProtectSystem") == "strict"

    # The unit's state: nvram and flash under /var/lib/scepterd, owned by scepterd.
    for path in ["/var/lib/scepterd/nvram", "/var/lib/scepterd/flash"]:
        info = os.stat(path)
        assert (info.st_uid, info.st_mode & 0o077) == (uid, 0), path
    sock = os.stat(d.socket)
    assert (sock.st_uid, sock.st_gid, sock.st_mode & 0o777) == (uid, gid, 0o660)

    # A member of the scepterd group may use the shell; another user may not.
    nobody = ["setpriv", "--reuid", "nobody", "--regid", "nogroup"]
    rc, out = d.run_raw(["-c", "show clock"], check=False,
                        prefix=nobody + ["--groups", str(gid), "--"])
    assert rc == 0, out
    rc, out = d.run_raw(["-c", "show clock"], check=False, prefix=nobody + ["--clear-groups", "--"])
    assert rc == 2, out

    # A root CA as the scepterd(8) example makes it, HTTP on a port below 1024.
    with held_low_port() as held:
        port = held.getsockname()[1]
        d.sh("configure terminal", "ip http server", f"ip http port {port}",
             "ip http bind-address 127.0.0.1", "end")
        assert wait_listening(d, port) == port
        out = d.sh("configure terminal", f"crypto pki server {LABEL}",
                   "database archive pkcs12 password 0 archive-secret", "grant auto",
                   "no shutdown", "yes", "end", "write memory")
        assert "% Certificate Server enabled." in out, out
        ca = d.ca_pem_file()
        c = StrongSwan(workdir, "sw1", f"http://127.0.0.1:{port}{SCEP_PATH}", ca, 0)
        rc, out = c.run()
        assert rc == 0 and "Issued certificate" in out, out
        verify(ca, c.cert)
        assert cert_serial_of(c.cert) > 0
    [row] = d.requests()
    assert row["state"] == "granted"

    # What it made is where the unit says, and nowhere else is writable to it.
    for name in ["startup-config", "private-config", "audit.log", f"{LABEL}.ser"]:
        assert os.stat(os.path.join(d.nvram, name)).st_uid == uid, name
    d.sh("copy nvram:startup-config flash:probe", "")
    assert os.path.isfile("/var/lib/scepterd/flash/probe")
    for target in ["/etc/scepter-probe", "/usr/local/scepter-probe", "/var/lib/scepter-probe"]:
        rc, out = d.run_raw(["-c", f"copy nvram:startup-config {target}", "-c", ""])
        assert rc == 1 and "Read-only file system" in out, out
        assert not os.path.exists(target), target
    # Even with a write bit for everyone, the file system is read-only to it.
    probe_dir = tempfile.mkdtemp(prefix="scepter-probe-", dir="/var/lib")
    try:
        os.chmod(probe_dir, 0o777)
        rc, out = d.run_raw(["-c", f"copy nvram:startup-config {probe_dir}/x", "-c", ""])
        assert rc == 1 and not os.listdir(probe_dir), out
        p = run("nsenter", "--target", str(d.proc.pid), "--mount", "--", "touch",
                f"{probe_dir}/y", check=False)
        assert p.returncode != 0 and "Read-only file system" in p.stderr, p.stderr
    finally:
        shutil.rmtree(probe_dir, ignore_errors=True)
    # Its /tmp is its own.
    d.sh("copy nvram:startup-config /tmp/scepter-private-probe", "")
    assert not os.path.exists("/tmp/scepter-private-probe")


def test_purge_removes_user_and_state(package):
    # Runs last in this module: the package fixture purges again at the end (a no-op).
    assert os.path.isdir("/var/lib/scepterd")
    run("dpkg", "--remove", "scepter")
    # Removing keeps the CA and its user; purging takes both.
    assert os.path.isdir("/var/lib/scepterd") and _exists(pwd.getpwnam, "scepterd")
    run("dpkg", "--purge", "scepter")
    assert not os.path.exists("/var/lib/scepterd")
    assert not _exists(pwd.getpwnam, "scepterd") and not _exists(grp.getgrnam, "scepterd")
    assert not os.path.exists("/usr/sbin/scepterd") and not os.path.exists(UNIT)
