"""Merge pytest JUnit XML files into one (tools/test.sh: the two end-to-end streams and the tests
run alone make artifacts/junit.xml, as one pytest process did before).

    python tools/junit_merge.py OUT IN [IN ...]      (an IN that does not exist is skipped)
"""

from __future__ import annotations

import os
import sys
import xml.etree.ElementTree as ET


def merge(out: str, sources: list[str]) -> int:
    merged = ET.Element("testsuites", name="pytest tests")
    for path in sources:
        if not os.path.exists(path):
            continue
        root = ET.parse(path).getroot()
        merged.extend(root.iter("testsuite") if root.tag == "testsuites" else [root])
    ET.ElementTree(merged).write(out, encoding="utf-8", xml_declaration=True)
    return len(merged)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    merge(sys.argv[1], sys.argv[2:])
