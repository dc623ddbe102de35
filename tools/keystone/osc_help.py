"""Keep docs/osc.md's "--help of each command" section equal to what the CLI prints.

Run with the CLI venv's python (its ``openstack`` is the one beside it), 100 columns wide::

    .sandbox/searchlightclient-venv/bin/python tools/keystone/osc_help.py --write docs/osc.md
    .sandbox/searchlightclient-venv/bin/python tools/keystone/osc_help.py --check docs/osc.md

The section lies between ``<!-- osc-help:begin -->`` and ``<!-- osc-help:end -->``; --check exits 1
(with a diff) when it differs, which tests/e2e/test_osc.py turns into a failure. Standard library
only.
"""

from __future__ import annotations

import difflib
import os
import subprocess
import sys
from pathlib import Path

COMMANDS = ("stack search", "stack search facets", "stack uses", "stack history", "stack diff",
            "stack changes")
BEGIN, END = "<!-- osc-help:begin -->", "<!-- osc-help:end -->"


def help_text(openstack: str, command: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(COLUMNS="100", PYTHONWARNINGS="ignore", LC_ALL="C.UTF-8")
    proc = subprocess.run([openstack, *command.split(), "--help"], capture_output=True,
                          text=True, env=env, timeout=120, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        sys.exit(f"openstack {command} --help exited {proc.returncode}: {proc.stderr}")
    return proc.stdout.rstrip() + "\n"


def section(openstack: str) -> str:
    parts = [BEGIN]
    for command in COMMANDS:
        parts.append(f"### openstack {command}\n\n```text\n$ openstack {command} --help\n"
                     f"{help_text(openstack, command)}```\n")
    parts.append(END)
    return "\n".join(parts)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("--check", "--write"):
        sys.exit("usage: osc_help.py --check|--write DOC")
    doc = Path(argv[1])
    text = doc.read_text()
    if BEGIN not in text or END not in text:
        sys.exit(f"{doc} has no {BEGIN} … {END} section")
    head, rest = text.split(BEGIN, 1)
    old, tail = rest.split(END, 1)
    new = section(str(Path(sys.executable).parent / "openstack"))
    if argv[0] == "--write":
        doc.write_text(head + new + tail)
        return 0
    if BEGIN + old + END == new:
        return 0
    sys.stdout.writelines(difflib.unified_diff(
        (BEGIN + old + END).splitlines(True), new.splitlines(True), str(doc), "the CLI's --help"))
    print(f"\n{doc} is out of date: {sys.executable} {__file__} --write {doc}")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
