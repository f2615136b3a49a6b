"""The guide's examples (tests/seed/examples.txt) and the shape of its `show` outputs:
what test_seed_examples.py pastes, and what the end-to-end tests compare their `show`
output with where they build the state a guide example shows (a subordinate CA, an RA).
"""

import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "../seed/examples.txt")


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

# --- The shape of `show` output: labels in order, as the guide prints them --------------

# 12.x names of lines the 15.x/IOS-XE layout (what scepterd prints, docs/decisions.md)
# calls otherwise.
LABEL_ALIASES = {
    "Certificate Server status": "Status",
    "Server's current state": "State",
    "Rollover CA certificate fingerprint": "Rollover CA cert fingerprint",
    "Rollover CA certificate expiration time": "Rollover CA certificate expiration timer",
    "Subordinate CS certificate requests": "Subordinate CA certificate requests",
    "Router certificate requests": "Router certificates requests",
}
# Lines of the guide's output left out of the comparison, with the line after them (a
# table header), and why.
GUIDE_QUIRKS = {
    (1774, "RA certificate requests"): "listed twice by the guide's 12.4 output, before and "
    "after the subordinate CA's; its other examples (1190, 1890) list it once, after them",
}
# Values compared as well as labels (the first word of Status: enabled/disabled).
COMPARED_VALUES = {"Status", "Granting mode is", "Database Level", "Rollover status"}
SHAPED = re.compile(r"^(show crypto pki server(?: \S+)?|crypto pki server \S+ info req\w*)$")


def shape(lines):
    """[(label, value)] of a `show` output, prose and the guide's `!` notes left out."""
    out = []
    for line in lines:
        text = line.strip()
        if not text or text.startswith("!") or text.startswith("---") or len(text.split()) > 14:
            continue
        if re.match(r"^\d+\s", text) or ":" not in text and re.search(r"\w=\w.*,", text):
            continue  # a row of a table (or its wrapped subject): data, not shape
        if re.match(r"^Certificate Server \S+:$", text):
            out.append(("Certificate Server", ""))
            continue
        m = re.match(r"^([^:]+?)\s*:\s*(.*)$", text)
        label, value = (m.group(1), m.group(2)) if m else (text, "")
        label = " ".join(label.split())
        label = LABEL_ALIASES.get(label, label)
        if label == "Status":
            value = value.split(",")[0].strip()
        out.append((label, value if label in COMPARED_VALUES else ""))
    return out


def guide_shows(example):
    """[(command, guide output lines)] for the shaped commands of `example`."""
    shows, current = [], None
    for kind, mode, text in example["items"]:
        if kind == "cmd":
            current = None
            if mode in ("exec", "user") and SHAPED.match(text):
                current = (text, [])
                shows.append(current)
        elif kind == "out" and current is not None:
            current[1].append(text)
    return shows


def assert_same_shape(example, command, guide_lines, ours, values=True):
    """Every line of the guide's output is in ours, in the same order (ours may say more:
    the 15.x `State:` and lock lines)."""
    want, have = shape(guide_lines), shape(ours.splitlines())
    if not values:
        want, have = [(label, "") for label, _ in want], [(label, "") for label, _ in have]
    for i, (label, _) in enumerate(want):
        if (example["line"], label) in GUIDE_QUIRKS:
            del want[i:i + 2]
            break
    it = iter(have)
    missing = [w for w in want if not any(w == h for h in it)]
    assert not missing, (f"{command}: the guide's lines {missing} are not in this order in\n"
                         f"{ours}\nguide: {want}\nours: {have}")


def assert_guide_shape(line, ours, values=True):
    """`ours` has the shape of the output the guide shows at example `line` (its first
    shaped command). values=False compares labels only, for a state that differs from the
    guide's in a setting (granting mode) the test needs."""
    example = next(e for e in EXAMPLES if e["line"] == line)
    command, guide_lines = guide_shows(example)[0]
    assert_same_shape(example, command, guide_lines, ours, values)
