#!/usr/bin/env python3
"""Puts a benchmark's table into docs/benchmarks.md between its section's markers.

usage: doc_table.py DOC SECTION HEADING  (the table on standard input)
Replaces what stands between <!-- SECTION:begin --> and <!-- SECTION:end -->; a document
without the markers gets them at its end, under "## HEADING". Every bench/*.sh script writes
its table this way, so the figures in the docs are always a script's own output.
"""
import re
import sys

path, section, heading = sys.argv[1:4]
table = sys.stdin.read().rstrip("\n")
text = open(path, encoding="utf-8").read()
begin, end = f"<!-- {section}:begin -->", f"<!-- {section}:end -->"
if begin not in text:
    text = text.rstrip("\n") + f"\n\n## {heading}\n\n{begin}\n{end}\n"
text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: f"{begin}\n{table}\n{end}", text, flags=re.S)
open(path, "w", encoding="utf-8").write(text)
