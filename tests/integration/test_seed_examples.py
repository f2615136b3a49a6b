"""Every configuration and exec example of the Cisco guide, pasted into `scepter`.

The examples are extracted from the guide by tests/seed/extract_examples.py into
tests/seed/examples.txt. Each one is pasted, prompts stripped, into a fresh scepterd over
standard input, the way an admin pastes into a terminal. What the runner adds, and why:
  - the mode the example starts in ("configure terminal", "crypto pki server LABEL");
  - `end` where the guide jumps from a configuration prompt to an exec prompt;
  - the answers to the questions the guide shows being asked: the answer it shows, or
    Return, or a passphrase where the guide's `Password:` hides what was typed;
  - host names in URLs point at servers on 127.0.0.1 (tftp, ftp, http), since the
    guide's hosts do not exist here;
  - a prelude: what the guide did before an example and does not show (a server that
    exists and is enabled, requests waiting, certificates issued).
Then the `show` output is compared with the guide's, label by label and in order
(assert_same_shape), where the guide shows it.
"""

import os
import re
import sys

import pytest

from conftest import Daemon, make_csr
import file_servers
from seed_shapes import EXAMPLES, FIXTURE, assert_same_shape, guide_shows

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../seed"))
import extract_examples  # noqa: E402

PASSPHRASE = "seed-example-pass"

# A parser rejection: the command, as the guide writes it, is not accepted.
PARSE_ERROR = re.compile(r"% (Invalid input|Incomplete command|Ambiguous command|"
                         r"Unrecognized command|Unknown command)")

# Examples that need hardware scepterd does not have; each must be refused with a clear
# message (the user guide's "Differences from IOS" lists them).
HARDWARE = {
    395: "usbtoken0: (a USB token)",
    411: "usbtoken0: (a USB token)",
    1152: "slot0: (a PCMCIA flash card)",
}


# Shown by examples that test_ra.py and test_hierarchy.py play with a real superior
# CA, and the restore examples (test_restore.py restores real backups; the guide's PEM
# does not survive the PDF conversion).
SHAPE_ELSEWHERE = {1558, 1595, 1798, 1836}
CONFIG_MODES = {"config", "cs-server", "ca-trustpoint", "cert-chain", "-"}


def rewrite_hosts(command, servers):
    def repl(m):
        scheme = m.group(1).lower()
        server = servers.get(scheme) or servers["http"]
        return f"{m.group(1)}://127.0.0.1:{server.port}/"
    return re.sub(r"\b(tftp|ftp|https?|scp|sftp)://(\[[^\]]*\]|[^/\s]+)(?::\d+)?/?",
                  repl, command)


def next_mode(mode, command):
    """The mode after `command`, typed in `mode`."""
    if mode == "-":
        mode = "config"
    if command in ("end",) or mode == "exec" and command != "configure terminal":
        return "exec"
    if command == "configure terminal" or command == "exit" and mode != "config":
        return "config"
    if re.match(r"crypto pki server \S+$", command):
        return "cs-server"
    if command.startswith("crypto pki trustpoint"):
        return "ca-trustpoint"
    if command.startswith("crypto pki certificate chain"):
        return "cert-chain"
    return mode


def script(example, servers):
    """The lines typed for `example`."""
    lines = []
    mode = "exec"
    last_question = ""
    label = next((c.split()[3] for k, _, c in example["items"]
                  if k == "cmd" and re.match(r"crypto pki server \S+$", c)), "mycs")
    for kind, m, text in example["items"]:
        if kind == "out":
            if extract_examples.QUESTION.search(text):
                last_question = text
            continue
        if kind == "answer":
            if text == "" and "assword" in last_question:
                text = PASSPHRASE
            lines.append(text)
            continue
        if m == "user":
            m = "exec"
        if m in CONFIG_MODES and mode == "exec":
            lines.append("configure terminal")
            mode = "config"
        if m == "cs-server" and mode == "config":
            lines.append(f"crypto pki server {label}")
        elif m == "ca-trustpoint" and mode == "config":
            lines.append("crypto pki trustpoint tp")
        elif m == "exec" and mode != "exec":
            lines.append("end")
        elif m != "-" and m in CONFIG_MODES and mode != m and mode != "config":
            lines.append("exit")
        mode = next_mode(m, text)
        lines.append(rewrite_hosts(text, servers))
        if (example["line"], text) in UNSHOWN_ANSWERS:
            lines.append(UNSHOWN_ANSWERS[(example["line"], text)])
    return lines


# --- What the guide did before an example and does not show -------------------------

# An exec command naming a server (and perhaps a request id or serial number).
EXEC_REF = re.compile(r"^(?:show )?crypto pki server (\S+)(?: (grant|reject|remove|revoke|"
                      r"unrevoke)\s+(\d+))?")
# A configuration command acting on an existing server (not the one entering its mode).
CONFIG_REF = re.compile(r"^(?:no crypto pki server (\S+)$|crypto pki server (\S+) \S)")

# Examples whose `show` reflects a server the guide configured beforehand: the label, its
# configuration lines, and exec lines run once it is enabled.
PRELUDE = {
    484: ("ms2", ["database level complete"], []),
    # Configured by the guide's storage example just before, and left shut down.
    1330: ("mycs", ["database url ftp://cs-db.company.com",
                    "database url crl publish ftp://crl.company.com username myname "
                    "password secret", "database url ser nvram:"], None),
    958: ("mycs", [], []),
    1237: ("routercs", ["issuer-name CN=walnutcs", "grant auto"],
           ["crypto pki server routercs rollover"]),
    1911: ("mycs", [], []),
    1954: ("mycs", ["auto-rollover 25"], []),
}


def own_server(example):
    """The label of the server `example` enables itself, or None."""
    label = None
    for kind, _, text in example["items"]:
        if kind == "cmd" and re.match(r"crypto pki server \S+$", text):
            label = text.split()[3]
        if kind == "cmd" and text == "no shutdown" and label:
            return label
    return None


def prelude(example):
    """{label: (config lines, exec lines, requests to submit, grant them)} for `example`,
    and the configuration lines that go before the example's own server."""
    label = own_server(example)
    if label:
        # The guide's router asked for no passphrase: it had one in its configuration.
        asked = any(k == "out" and "Password:" in t for k, _, t in example["items"])
        ra = any(k == "cmd" and t.startswith("mode ra") for k, _, t in example["items"])
        config = list(PRELUDE.get(example["line"], (label, [], []))[1])
        if not asked and not ra:
            config.append(f"database archive pkcs12 password {PASSPHRASE}")
        return {}, {label: config}
    wanted = {}
    if example["line"] in PRELUDE:
        label, config, after = PRELUDE[example["line"]]
        if after is None:  # configured, not enabled
            return {}, {label: config}
        wanted[label] = [config, after, 0, False]
    for mode, command in ((m, c) for k, m, c in example["items"] if k == "cmd"):
        if mode == "config" and (c := CONFIG_REF.match(command)):
            wanted.setdefault(c.group(1) or c.group(2), [[], [], 0, False])
            continue
        m = EXEC_REF.match(command) if mode in ("exec", "user") else None
        if not m:
            continue
        entry = wanted.setdefault(m.group(1), [[], [], 0, False])
        if m.group(2) in ("revoke", "unrevoke"):
            # Serial N: N-1 requests granted after the CA certificate (serial 1).
            entry[2], entry[3] = max(entry[2], int(m.group(3)) - 1), True
            if m.group(2) == "unrevoke":
                entry[1].append(f"crypto pki server {m.group(1)} revoke {m.group(3)}")
        elif m.group(2):
            entry[2] = max(entry[2], int(m.group(3)))  # request id N
    return wanted, {}


def run_prelude(d, example, workdir, servers):
    enabled, configured = prelude(example)
    for label, config in configured.items():
        if config:
            d.cs(*(rewrite_hosts(line, servers) for line in config), label=label)
    for label, (config, after, requests, grant) in enabled.items():
        d.create_ca(*config, label=label)
        for i in range(requests):
            d.submit(make_csr(workdir, f"seed-{i}", f"/CN=seed-{i}", key="shared"), label=label)
        if grant:
            d.sh(f"crypto pki server {label} grant all")
        if after:
            d.sh(*after)


# Questions the guide's transcript does not show (its router did not ask, or the
# conversion lost them), by example line and command: the answer typed.
UNSHOWN_ANSWERS = {(518, "no shutdown"): "yes"}


@pytest.fixture(scope="module")
def servers():
    if not file_servers.binaries_present():
        pytest.skip("file servers not installed")
    started = {}
    for cls in (file_servers.TftpServer, file_servers.FtpServer, file_servers.HttpServer):
        s = cls().start()
        started[s.scheme] = s
    yield started
    for s in started.values():
        s.remove()


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: f"{e['kind']}{e['line']}")
def test_example_is_accepted(example, servers, workdir):
    d = Daemon(workdir)
    d.start()
    try:
        run_prelude(d, example, workdir, servers)
        typed = script(example, servers)
        rc, out = d.run_raw([], stdin="\n".join(typed) + "\n", timeout=120)
        print("TYPED:\n" + "\n".join(typed) + "\nOUTPUT:\n" + out)
        if example["line"] in HARDWARE:
            assert "%" in out, out
            return
        assert not PARSE_ERROR.search(out), out
        # What the command names exists: the server, the request, the serial.
        assert not re.search(r"% (Certificate server \S+ does not exist|Request \d+ does not "
                             r"exist|Certificate with serial number \S+ was not issued)", out), out
        if example["line"] in SHAPE_ELSEWHERE:
            return
        for command, guide_lines in guide_shows(example):
            assert_same_shape(example, command, guide_lines, d.sh(command))
    finally:
        d.kill()


def test_fixture_is_what_the_script_extracts():
    """examples.txt is the script's output for the guide (when the guide is beside the
    checkout): a change to either shows here."""
    if not os.path.exists(extract_examples.DEFAULT_SEED):
        pytest.skip("the Cisco guide is not beside this checkout")
    expected = ["# Generated by extract_examples.py from the Cisco IOS certificate server guide.",
                "# Do not edit: change the script (FIXES) and run it again."]
    for record in extract_examples.extract(extract_examples.DEFAULT_SEED):
        expected.extend(record)
    with open(FIXTURE, encoding="utf-8") as f:
        assert f.read().splitlines() == expected


def test_every_example_is_found():
    # The guide's transcripts and step examples; a parser change that loses some fails here.
    assert len(EXAMPLES) >= 110
    assert sum(1 for e in EXAMPLES for k, _, _ in e["items"] if k == "cmd") >= 190


def test_outputs_are_compared_where_the_guide_shows_them():
    compared = [e["line"] for e in EXAMPLES
                if guide_shows(e) and e["line"] not in SHAPE_ELSEWHERE]
    assert len(compared) >= 12, compared


def test_shape_comparison_sees_a_missing_or_moved_line():
    guide = ["Certificate Server mycs:", "  Status: enabled, configured",
             "  Server's current state: enabled", "  Granting mode is: manual",
             "  Database Level: Minimum - no cert data written to storage"]
    ours = ("Certificate Server mycs:\n  Status: enabled\n  State: enabled\n"
            "  Server's configuration is locked (enter \"shut\" to unlock it)\n"
            "  Granting mode is: manual\n"
            "  Database Level: Minimum - no cert data written to storage\n")
    example = {"line": 0}
    assert_same_shape(example, "show", guide, ours)
    with pytest.raises(AssertionError):
        assert_same_shape(example, "show", guide, ours.replace("manual", "auto"))
    with pytest.raises(AssertionError):
        assert_same_shape(example, "show", guide, ours.replace("  State: enabled\n", ""))
    with pytest.raises(AssertionError):
        moved = ours.replace("  Granting mode is: manual\n", "") + "  Granting mode is: manual\n"
        assert_same_shape(example, "show", guide, moved)
