"""Real file servers on 127.0.0.1 for remote `database url` and `copy` tests, from
Debian's packages: vsftpd (ftp), tftpd-hpa (tftp), nginx with its DAV module (http PUT)
and OpenSSH (sftp, scp). Each is started by the test in its own directory, on a free
port, and stopped with it.

The ftp, http and ssh servers log in one local account, made once per machine (the
servers check real passwords), which needs root: as everywhere in CI."""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

USER = "scepterxfer"
PASSWORD = "xfer-Secret-42"


def _need_root():
    if os.geteuid() != 0:
        pytest.skip("the file servers log in a local account: run as root (CI does)")


def ensure_user():
    """The local account the servers log in (an empty home, which vsftpd enters before
    local_root, and a login shell for its pam_shells check)."""
    _need_root()
    home = f"/var/lib/{USER}"
    try:
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--home-dir", home, "--shell", "/bin/bash", USER],
                       check=True)
    subprocess.run(["usermod", "--home", home, USER], check=True, capture_output=True)
    os.makedirs(home, exist_ok=True)
    subprocess.run(["chpasswd"], input=f"{USER}:{PASSWORD}\n", text=True, check=True)
    entry = pwd.getpwnam(USER)
    os.chown(home, entry.pw_uid, entry.pw_gid)
    return entry.pw_uid, entry.pw_gid


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_tcp(port, proc, log, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {_read(log)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server did not listen on {port}: {_read(log)}")


def _wait_udp(port, proc, log, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {_read(log)}")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return  # taken: the server has it
        time.sleep(0.05)
    raise RuntimeError(f"server did not bind udp {port}: {_read(log)}")


def _stop_group(proc):
    """Ends a server started in a session of its own (SIGTERM, then SIGKILL)."""
    if proc and proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


class FileServer:
    """One server process serving `self.data` (owned by the test account)."""

    scheme = None

    def __init__(self):
        self.uid, self.gid = ensure_user()
        # Its own directory, which the server's account can enter (a test's workdir is
        # private to root).
        self.root = tempfile.mkdtemp(prefix=f"scepter-{self.scheme}-")
        os.chmod(self.root, 0o755)
        self.data = os.path.join(self.root, "data")
        os.makedirs(self.data)
        os.chown(self.data, self.uid, self.gid)
        self.port = None
        self.proc = None
        self.log = os.path.join(self.root, "server.log")

    def url(self, path="", login=False, scheme=None):
        """The URL of `path` under the served directory; with the account's name and
        password in it when `login`."""
        who = f"{USER}:{PASSWORD}@" if login else ""
        return f"{scheme or self.scheme}://{who}127.0.0.1:{self.port}{self._base()}{path}"

    def _base(self):
        return "/"

    def path(self, name):
        return os.path.join(self.data, name)

    def read(self, name):
        with open(self.path(name), "rb") as f:
            return f.read()

    def set_read_only(self, read_only):
        os.chmod(self.data, 0o555 if read_only else 0o755)

    def start(self):
        if self.port is None:
            self.port = free_port(socket.SOCK_DGRAM if self.scheme == "tftp" else
                                  socket.SOCK_STREAM)
        log = open(self.log, "a")
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                     cwd=self.root, start_new_session=True)
        (_wait_udp if self.scheme == "tftp" else _wait_tcp)(self.port, self.proc, self.log)
        return self

    def stop(self):
        _stop_group(self.proc)
        self.proc = None

    def remove(self):
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class FtpServer(FileServer):
    scheme = "ftp"

    def _base(self):
        return "/"  # vsftpd puts the login in local_root

    def command(self):
        empty = "/var/run/vsftpd/empty"
        os.makedirs(empty, exist_ok=True)
        conf = os.path.join(self.root, "vsftpd.conf")
        with open(conf, "w") as f:
            f.write("\n".join([
                "listen=YES", "listen_ipv6=NO", "listen_address=127.0.0.1",
                f"listen_port={self.port}", "background=NO", "anonymous_enable=NO",
                "local_enable=YES", "write_enable=YES", "local_umask=022",
                f"local_root={self.data}", "pasv_enable=YES", "pasv_address=127.0.0.1",
                "seccomp_sandbox=NO", f"secure_chroot_dir={empty}",
                "pam_service_name=vsftpd", "xferlog_enable=NO", "userlist_enable=NO",
                f"vsftpd_log_file={self.log}", ""]))
        os.chmod(conf, 0o600)
        return ["/usr/sbin/vsftpd", conf]


class TftpServer(FileServer):
    scheme = "tftp"

    def command(self):
        return ["/usr/sbin/in.tftpd", "--foreground", "--listen", "--address",
                f"127.0.0.1:{self.port}", "--secure", "--create", "--user", USER,
                "--verbose", self.data]


class HttpServer(FileServer):
    """nginx with WebDAV PUT behind basic authentication."""
    scheme = "http"

    def command(self):
        htpasswd = os.path.join(self.root, "htpasswd")
        hashed = subprocess.run(["openssl", "passwd", "-apr1", PASSWORD], capture_output=True,
                                text=True, check=True).stdout.strip()
        with open(htpasswd, "w") as f:
            f.write(f"{USER}:{hashed}\n")
        os.chmod(htpasswd, 0o644)
        for d in ("body", "logs"):
            os.makedirs(os.path.join(self.root, d), exist_ok=True)
            os.chown(os.path.join(self.root, d), self.uid, self.gid)
        conf = os.path.join(self.root, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""
daemon off;
master_process on;
worker_processes 1;
user {USER};
pid {self.root}/nginx.pid;
error_log {self.log} info;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {self.root}/body;
  server {{
    listen 127.0.0.1:{self.port}{self._tls()};
    root {self.data};
    location / {{
      dav_methods PUT DELETE MKCOL;
      create_full_put_path on;
      dav_access user:rw group:r all:r;
      client_max_body_size 0;
      auth_basic "scepter";
      auth_basic_user_file {htpasswd};
    }}
  }}
}}
""")
        return ["/usr/sbin/nginx", "-p", self.root, "-c", conf, "-e", self.log]

    def _tls(self):
        return ""


class HttpsServer(HttpServer):
    """The same over TLS, with a certificate from a CA of its own (`ca_pem`), which no
    system trust store holds."""
    scheme = "https"

    def __init__(self):
        super().__init__()
        self.ca_pem = os.path.join(self.root, "ca.pem")
        ca_key = os.path.join(self.root, "ca.key")
        csr = os.path.join(self.root, "tls.csr")
        self.cert = os.path.join(self.root, "tls.pem")
        self.key = os.path.join(self.root, "tls.key")  # 0600: nginx reads it as root
        ext = os.path.join(self.root, "ext.cnf")
        with open(ext, "w") as f:
            f.write("subjectAltName=IP:127.0.0.1\n")

        def openssl(*args):
            subprocess.run(["openssl", *args], check=True, capture_output=True)
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out",
                self.ca_pem, "-subj", "/CN=File server test CA", "-days", "2")
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", self.key, "-out", csr,
                "-subj", "/CN=127.0.0.1")
        openssl("x509", "-req", "-in", csr, "-CA", self.ca_pem, "-CAkey", ca_key,
                "-CAcreateserial", "-out", self.cert, "-days", "2", "-extfile", ext)

    def _tls(self):
        return f" ssl;\n    ssl_certificate {self.cert};\n    ssl_certificate_key {self.key}"


class SshServer(FileServer):
    """OpenSSH with its internal sftp server; scp over the same. known_hosts() gives the
    line a client needs to trust it."""
    scheme = "sftp"

    def __init__(self):
        super().__init__()
        self.host_key = os.path.join(self.root, "ssh_host_ed25519_key")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", self.host_key],
                       check=True)

    def _base(self):
        return self.data + "/"  # sftp and scp paths are absolute

    def known_hosts(self):
        with open(self.host_key + ".pub") as f:
            key = " ".join(f.read().split()[:2])
        return f"[127.0.0.1]:{self.port} {key}\n"

    def command(self):
        os.makedirs("/run/sshd", exist_ok=True)
        conf = os.path.join(self.root, "sshd_config")
        with open(conf, "w") as f:
            f.write("\n".join([
                f"Port {self.port}", "ListenAddress 127.0.0.1", f"HostKey {self.host_key}",
                f"PidFile {self.root}/sshd.pid", "UsePAM no", "PasswordAuthentication yes",
                "KbdInteractiveAuthentication no", "PermitRootLogin no", "StrictModes no",
                "AuthorizedKeysFile none", f"AllowUsers {USER}",
                "Subsystem sftp internal-sftp", ""]))
        return ["/usr/sbin/sshd", "-D", "-e", "-f", conf]


SERVERS = {"ftp": FtpServer, "tftp": TftpServer, "http": HttpServer, "https": HttpsServer,
           "sftp": SshServer}


def binaries_present():
    return all(shutil.which(p) or os.path.exists(p) for p in
               ("/usr/sbin/vsftpd", "/usr/sbin/in.tftpd", "/usr/sbin/nginx", "/usr/sbin/sshd"))


class Balancer:
    """nginx as a round-robin load balancer on 127.0.0.1 in front of `ports` (several
    scepterd nodes): each request goes to the next node; a node that refuses the
    connection or answers 502/503 is skipped for that request (`proxy_next_upstream`,
    also for POST: SCEP makes a resend safe, the transactionID gets the same answer)."""

    def __init__(self, ports):
        _need_root()
        self.backends = list(ports)
        self.root = tempfile.mkdtemp(prefix="scepter-lb-")
        os.chmod(self.root, 0o755)
        self.log = os.path.join(self.root, "server.log")
        self.port = None
        self.proc = None

    def start(self):
        self.port = free_port()
        for d in ("body", "proxy", "logs"):
            os.makedirs(os.path.join(self.root, d), exist_ok=True)
        servers = "\n".join(f"    server 127.0.0.1:{p} max_fails=0;" for p in self.backends)
        conf = os.path.join(self.root, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""
daemon off;
master_process on;
worker_processes 1;
user root;
pid {self.root}/nginx.pid;
error_log {self.log} info;
events {{ worker_connections 256; }}
http {{
  log_format upstream '$upstream_addr $status';
  access_log {self.root}/access.log upstream;
  client_body_temp_path {self.root}/body;
  proxy_temp_path {self.root}/proxy;
  upstream scepter {{
{servers}
    keepalive 16;
  }}
  server {{
    listen 127.0.0.1:{self.port};
    location / {{
      proxy_pass http://scepter;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_next_upstream error timeout http_502 http_503 non_idempotent;
      proxy_connect_timeout 2s;
      client_max_body_size 1m;
    }}
  }}
}}
""")
        log = open(self.log, "a")
        self.proc = subprocess.Popen(["/usr/sbin/nginx", "-p", self.root, "-c", conf, "-e",
                                      self.log], stdout=log, stderr=subprocess.STDOUT,
                                     cwd=self.root, start_new_session=True)
        _wait_tcp(self.port, self.proc, self.log)
        return self

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def served_by(self):
        """How many requests each backend port answered, from the access log."""
        counts = {}
        with open(os.path.join(self.root, "access.log")) as f:
            for line in f:
                for p in self.backends:
                    if f"127.0.0.1:{p}" in line:
                        counts[p] = counts.get(p, 0) + 1
        return counts

    def errors(self):
        """How many times a backend could not be reached or failed mid-answer."""
        with open(self.log) as f:
            return sum(1 for line in f if "upstream" in line and "[error]" in line)

    def remove(self):
        _stop_group(self.proc)
        self.proc = None
        shutil.rmtree(self.root, ignore_errors=True)
