#!/usr/bin/env python3
"""Extracts every configuration and exec example from the Cisco configuration guide that
Scepter implements (shared/seed/cisco-ios-certificate-server.txt) into examples.txt, the
fixture that tests/integration/test_seed_examples.py pastes into `scepter`.

Two kinds of example are read:
  - the transcripts between ``` fences (commands after a `Router...#` prompt, the output
    that follows them, and the answers typed at questions such as `[yes/no]:`);
  - the one-line examples of the DETAILED STEPS tables (`Example: Router(config)# ...`).

The guide was converted from PDF, so a few commands are broken over two lines or carry a
stray character. FIXES below repairs them; each fix names the seed line it applies to, so
the fixture stays a faithful copy of the guide plus visible repairs.

Usage: extract_examples.py [SEED] > examples.txt   (without SEED: ../../../shared/seed/...)

Fixture format, one record per line:
  @ LINE KIND          an example starts at seed line LINE (KIND: transcript | step)
  $ MODE<TAB>COMMAND   a command typed at a prompt of MODE (exec, config, cs-server,
                       ca-trustpoint, cert-chain, ...); MODE is "-" for a configuration
                       listing pasted without prompts
  < ANSWER             a line typed at the question the previous output asked
  | OUTPUT             a line of output the guide shows for the previous command
"""

import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SEED = os.path.join(HERE, "../../../shared/seed/cisco-ios-certificate-server.txt")

# A prompt: the guide's routers are "Router", "Router-ra", "Router-ca", sometimes with a
# space before the mode or the '#'.
PROMPT = re.compile(r"^\s*(Router(?:-[a-z]+)?)\s?(?:\((?P<mode>[a-z-]+)\))?\s?(?P<sign>[#>])\s?(?P<rest>.*)$")

# A question; what follows it on the line, or on the next line, is typed by the admin.
QUESTION = re.compile(r"(\[yes/no\]:|\]\?|^\s*Password:|^\s*Re-enter password:|\[confirm\])")
# An answer the guide shows on a line of its own.
TYPED = re.compile(r"^\s*(yes|no|y|n)\s*$")

# Seed line -> (broken text, what an admin types instead), replaced in that line; None
# as the replacement drops the whole line.
FIXES = {
    # "enrollment url" and its URL were wrapped onto two lines by the PDF conversion.
    1938: ("enrollment url", "enrollment url http://myca"),
    1939: ("http://myca", None),  # None: the line is removed (joined into 1937)
    # The conversion glued "local" (end of a comment) to the start of the next line.
    1298: ("local    !Cisco IOS file system.", None),
    # A space was inserted into a host name and into a label where the line broke.
    848: ("http://ca- server.company.com", "http://ca-server.company.com"),
    851: ("crypto pki server ra- server", "crypto pki server ra-server"),
    # The start of "show running-config" was cut off and printed before a log message;
    # the full command follows a few lines further on.
    1331: ("Router# show", None),
}

# A console log message ("*Jan  6 20:57:37.667: CRYPTO_CS: ...", "%SYS-5-..."): output.
LOG = re.compile(r"^\s*(\*?[A-Z][a-z]{2}\s+\d+\s+\d\d:\d\d:\d\d|%[A-Z]+-\d-)")

# Lines of a prompt-less configuration listing that are commands (the rest are comments).
LISTING_START = re.compile(r"^\s*(crypto pki|crypto ca)\b")

MODE_NAMES = {None: "exec", "config": "config", "cs-server": "cs-server",
              "ca-server": "cs-server",  # a typo of the guide for cs-server (line 1707)
              "ca-trustpoint": "ca-trustpoint", "config-cert-chain": "cert-chain",
              "config-pubkey": "pubkey"}


def clean(text):
    text = re.sub(r"</?(code|pre|i|b|p)>", "", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").rstrip()


def mode_of(match):
    if match.group("sign") == ">":
        return "user"
    return MODE_NAMES.get(match.group("mode"), match.group("mode"))


def out_of_debug(records):
    """Whether the output being read is a debug trace: the questions in it were asked of
    a command the guide does not show."""
    last = next((r for r in reversed(records) if r.startswith("$ ")), "")
    return last.split("\t")[-1].startswith("debug ")


def transcript(lines, start):
    """Records for one transcript; `lines` are (seed line, text) pairs."""
    out = [f"@ {start} transcript"]
    commands = 0
    body = [(n, t) for n, t in lines if t.strip()]
    if body and not PROMPT.match(body[0][1]) and LISTING_START.match(body[0][1]):
        for n, t in body:
            s = t.strip()
            if s.startswith("!"):
                continue
            out.append(f"$ -\t{s}")
            commands += 1
        return out, commands
    pending_prompt = None
    asked = False
    for n, t in body:
        m = PROMPT.match(t)
        if m and not m.group("rest").strip():
            pending_prompt = m  # the command follows on the next line
            continue
        if m:
            out.append(f"$ {mode_of(m)}\t{clean(m.group('rest')).strip()}")
            commands += 1
            asked = False
            pending_prompt = None
            continue
        if pending_prompt is not None:
            prompt, pending_prompt = pending_prompt, None
            if not LOG.match(t):  # a bare prompt, then a console message: no command
                out.append(f"$ {mode_of(prompt)}\t{clean(t).strip()}")
                commands += 1
                asked = False
                continue
        if asked and TYPED.match(t):
            out.append(f"< {t.strip()}")  # the answer, on a line of its own
            asked = False
            continue
        q = QUESTION.search(t)
        if q and commands and not out_of_debug(out):
            # The question, and the answer when the guide shows it on the same line.
            out.append(f"| {clean(t[:q.end()])}")
            answer = t[q.end():].strip()
            if answer:
                out.append(f"< {answer}")
            asked = not answer
            continue
        if asked:
            out.append("<")  # the answer is not shown: Return, or a hidden password
            asked = False
        out.append(f"| {clean(t)}")
    if asked:
        out.append("<")
    return out, commands


STEP = re.compile(r"(?:Example:\s*|<pre>|<code>)\s*(Router(?:-[a-z]+)?\s?(?:\([a-z-]+\))?\s?[#>])\s*"
                  r"(?:<code>)?(?P<cmd>[^<\t]+)")


def steps(n, text):
    records = []
    for m in STEP.finditer(text):
        p = PROMPT.match(m.group(1) + " x")
        cmd = clean(m.group("cmd")).strip()
        if not cmd:
            continue
        records.append([f"@ {n} step", f"$ {mode_of(p)}\t{cmd}"])
    return records


def extract(seed_path):
    with open(seed_path, encoding="utf-8") as f:
        raw = f.read().split("\n")
    lines = []
    for i, text in enumerate(raw, start=1):
        if i in FIXES:
            broken, fixed = FIXES[i]
            if broken not in text:
                sys.exit(f"seed line {i} no longer has {broken!r}: update FIXES")
            if fixed is None:
                continue
            text = text.replace(broken, fixed)
        lines.append((i, text))
    # Fenced blocks; a block separated from the previous one by blank lines only is the
    # same transcript, cut in two by the conversion.
    blocks = []
    block = None
    gap_blank = False
    for n, text in lines:
        if text.startswith("```"):
            if block is None:
                if blocks and gap_blank:
                    block = blocks.pop()
                else:
                    block = (n, [])
            else:
                blocks.append(block)
                block = None
                gap_blank = True
            continue
        if block is not None:
            block[1].append((n, text))
            continue
        if text.strip():
            gap_blank = False
        for rec in steps(n, text):
            blocks.append(rec)
    records = []
    for b in blocks:
        if isinstance(b, list):
            records.append(b)
            continue
        recs, commands = transcript(b[1], b[0])
        if commands:
            records.append(recs)
    return records


def main():
    seed = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_SEED
    print("# Generated by extract_examples.py from the Cisco IOS certificate server guide.")
    print("# Do not edit: change the script (FIXES) and run it again.")
    for rec in extract(seed):
        print("\n".join(rec))


if __name__ == "__main__":
    main()
