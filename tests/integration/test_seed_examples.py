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
  - PRELUDE: what the guide did before an example and does not show (a server that
    exists, a request waiting).
"""

import os
import re
import sys

import pytest

from conftest import Daemon
import file_servers

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../seed"))
import extract_examples  # noqa: E402

FIXTURE = os.path.join(HERE, "../seed/examples.txt")
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


def load():
    examples = []
    with open(FIXTURE, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            kind, rest = line[0], line[2:]
            if kind == "@":
                number, what = rest.split()
                examples.append({"line": int(number), "kind": what, "items": []})
            elif kind == "$":
                mode, command = rest.split("\t", 1)
                examples[-1]["items"].append(("cmd", mode, command))
            elif kind == "<":
                examples[-1]["items"].append(("answer", None, line[2:]))
            elif kind == "|":
                examples[-1]["items"].append(("out", None, rest))
    return examples


EXAMPLES = load()
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
    return lines


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
        typed = script(example, servers)
        rc, out = d.run_raw([], stdin="\n".join(typed) + "\n", timeout=120)
    finally:
        d.kill()
    print("TYPED:\n" + "\n".join(typed) + "\nOUTPUT:\n" + out)
    if example["line"] in HARDWARE:
        assert "%" in out, out
        return
    assert not PARSE_ERROR.search(out), out


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
