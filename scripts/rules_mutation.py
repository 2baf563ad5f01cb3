#!/usr/bin/env python3
"""Mutation test for the Prometheus rules: proves the promtool tests pin every number an operator relies on.

For every numeric literal in the `expr:` and `for:` fields of deploy/prometheus/rules/*.yml (thresholds,
burn factors, error budgets, objectives, volume guards, range windows such as [5m] or [30d], `for`
durations), the script writes two mutants, one number changed at a time:
  - a duration (5m, 1h, 30d ...) is halved and doubled (5m -> 150s and 10m);
  - a number is moved 20% down and up (6 -> 4.8 and 7.2, 0.1 -> 0.08 and 0.12); a ratio just under 1
    (an objective, a quantile) has its distance to 1 moved instead (0.95 -> 0.96 and 0.94).
Each mutant is run against the promtool tests that load its rule file (tests/deploy/*_test.yml); a
mutant whose tests still pass "survives" and the script fails, listing every survivor.

Not mutated, on purpose:
  - annotations (summary, description): every alert test compares them verbatim (exp_annotations; the
    integration test test_tests_check_every_annotation_of_the_rule makes sure each test checks all of
    them), so a changed number in a description fails the first firing test by construction;
  - numbers inside names (ratio_rate5m, telethon_...): they are names, not values;
  - comments.
Numbers that cannot matter would be listed in EXEMPT with the reason; there are none today.

Usage: scripts/rules_mutation.py [--jobs N] [--list] [--match REGEX]   (stdlib only; needs promtool on PATH)
Exit status: 0 when every mutant is killed, 1 when one survives or the unmutated tests fail.
"""
import argparse
import concurrent.futures
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RULES_REL = os.path.join("deploy", "prometheus", "rules")
TESTS_REL = os.path.join("tests", "deploy")

# (rule file name, stripped line, literal) -> why mutating it cannot change behaviour. Empty: every
# number is pinned by a test.
EXEMPT = {}

NUMBER = re.compile(r"(?<![\w.\\])(\d+(?:\.\d+)?)(ms|[smhdwy])?(?![\w.])")
FIELD = re.compile(r"^(\s*)(?:- )?(expr|for):\s?(.*)$")
RULE_START = re.compile(r"^\s*- (?:record|alert):\s*(\S+)")
UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


class Mutant:
    def __init__(self, rule_file, rule, line_no, col, old, new, line):
        self.rule_file, self.rule, self.line_no, self.col = rule_file, rule, line_no, col
        self.old, self.new, self.line = old, new, line

    def __str__(self):
        return f"{self.rule_file}:{self.line_no}: {self.old} -> {self.new}   ({self.line.strip()})"


def format_duration(seconds):
    for unit in ("y", "w", "d", "h", "m", "s"):
        if seconds >= UNIT_SECONDS[unit] and seconds % UNIT_SECONDS[unit] == 0:
            return f"{int(seconds // UNIT_SECONDS[unit])}{unit}"
    return f"{int(seconds * 1000)}ms"


def format_number(value):
    text = f"{value:.6g}"
    return text if "e" not in text else repr(value)


def mutations(number, unit):
    """The two nearby values a literal is replaced with."""
    value = float(number)
    if unit:
        seconds = value * UNIT_SECONDS[unit]
        return [format_duration(seconds / 2), format_duration(seconds * 2)]
    if value == 0:
        return ["1"]
    if 0.9 < value < 1:
        return [format_number(1 - (1 - value) * 0.8), format_number(1 - (1 - value) * 1.2)]
    return [format_number(value * 0.8), format_number(value * 1.2)]


def strip_comment(line):
    """The line without a YAML comment (a '#' at the start or after whitespace, outside quotes)."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i]
    return line


def mutable_lines(lines):
    """Yield (index, text) of the parts of lines that belong to an expr: or for: value."""
    block_indent = None
    for i, raw in enumerate(lines):
        line = strip_comment(raw.rstrip("\n"))
        if block_indent is not None:
            if not line.strip():
                continue
            if len(line) - len(line.lstrip()) > block_indent:
                yield i, line
                continue
            block_indent = None
        m = FIELD.match(line)
        if m:
            indent, value = len(m.group(1)), m.group(3)
            if value.strip() in ("|", ">", "|-", ">-"):
                block_indent = indent + (2 if line.lstrip().startswith("- ") else 0)
            else:
                yield i, " " * (len(line) - len(value)) + value


def find_mutants(originals):
    out = []
    for name in sorted(originals):
        lines = originals[name].splitlines(keepends=True)
        rule_of_line, rule = [], None
        for line in lines:
            m = RULE_START.match(line)
            rule = m.group(1) if m else rule
            rule_of_line.append(rule)
        for i, text in mutable_lines(lines):
            for m in NUMBER.finditer(text):
                literal = m.group(0)
                if (name, lines[i].strip(), literal) in EXEMPT:
                    continue
                for new in mutations(m.group(1), m.group(2)):
                    out.append(Mutant(name, rule_of_line[i], i + 1, m.start(), literal, new, lines[i]))
    return out


def tests_loading(tests_dir, rule_file):
    tests = []
    for name in sorted(os.listdir(tests_dir)):
        if name.endswith("_test.yml"):
            with open(os.path.join(tests_dir, name)) as f:
                if re.search(r"^\s*-\s*\S*/" + re.escape(rule_file) + r"\s*$", f.read(), re.M):
                    tests.append(name)
    return tests


def run_tests(workspace, tests, durations=None):
    """Runs the promtool test files one at a time, stopping at the first failure. Returns the failing
    file or None. Records each file's run time in durations when given."""
    cwd = os.path.join(workspace, TESTS_REL)
    for t in tests:
        started = time.monotonic()
        r = subprocess.run(["promtool", "test", "rules", t], cwd=cwd, capture_output=True, text=True)
        if durations is not None:
            durations[t] = time.monotonic() - started
        if r.returncode != 0:
            return t
    return None


def make_workspace(parent, originals):
    ws = tempfile.mkdtemp(dir=parent)
    os.makedirs(os.path.join(ws, RULES_REL))
    for name, text in originals.items():
        with open(os.path.join(ws, RULES_REL, name), "w") as f:
            f.write(text)
    shutil.copytree(os.path.join(ROOT, TESTS_REL), os.path.join(ws, TESTS_REL))
    return ws


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--list", action="store_true", help="print the mutants and exit")
    ap.add_argument("--match", metavar="REGEX", help="only the mutants whose description matches, e.g. "
                    "'alerts.yml:2[0-9]:' (a quicker run while working on one rule)")
    args = ap.parse_args()

    rules_dir, tests_dir = os.path.join(ROOT, RULES_REL), os.path.join(ROOT, TESTS_REL)
    originals = {}  # read once: the files may be edited while this runs
    for f in sorted(os.listdir(rules_dir)):
        if f.endswith(".yml"):
            with open(os.path.join(rules_dir, f)) as fh:
                originals[f] = fh.read()
    mutants = find_mutants(originals)
    if args.match:
        mutants = [m for m in mutants if re.search(args.match, str(m))]
    if args.list:
        for m in mutants:
            print(m)
        print(f"{len(mutants)} mutants")
        return 0
    if shutil.which("promtool") is None:
        print("rules-mutation: promtool not found (Debian package prometheus)", file=sys.stderr)
        return 1

    started = time.monotonic()
    tests_of = {f: tests_loading(tests_dir, f) for f in {m.rule_file for m in mutants}}
    for f, tests in sorted(tests_of.items()):
        if not tests:
            print(f"rules-mutation: no test in {TESTS_REL} loads {f}", file=sys.stderr)
            return 1
    with tempfile.TemporaryDirectory(prefix="rules-mutation-") as parent:
        workspaces = queue.Queue()
        for _ in range(max(1, args.jobs)):
            workspaces.put(make_workspace(parent, originals))
        baseline = workspaces.get()
        durations = {}
        failing = run_tests(baseline, sorted({t for ts in tests_of.values() for t in ts}), durations)
        workspaces.put(baseline)
        if failing:
            print(f"rules-mutation: the unmutated rules already fail {failing}", file=sys.stderr)
            return 1
        # Cheapest test files first: most mutants die in the first file that checks their rule.
        for f in tests_of:
            tests_of[f].sort(key=lambda t: durations[t])
        last_killer = {}

        def run(mutant):
            ws = workspaces.get()
            path = os.path.join(ws, RULES_REL, mutant.rule_file)
            lines = originals[mutant.rule_file].splitlines(keepends=True)
            line = lines[mutant.line_no - 1]
            lines[mutant.line_no - 1] = line[: mutant.col] + mutant.new + line[mutant.col + len(mutant.old):]
            try:
                with open(path, "w") as f:
                    f.writelines(lines)
                tests = list(tests_of[mutant.rule_file])
                # The test that killed the last mutant of the same rule is the likeliest to kill this one.
                first = last_killer.get((mutant.rule_file, mutant.rule))
                if first in tests:
                    tests.remove(first)
                    tests.insert(0, first)
                killer = run_tests(ws, tests)
                if killer:
                    last_killer[(mutant.rule_file, mutant.rule)] = killer
                return mutant, killer
            finally:
                with open(path, "w") as f:
                    f.write(originals[mutant.rule_file])
                workspaces.put(ws)

        survivors = []
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            for mutant, killer in pool.map(run, mutants):
                if killer is None:
                    survivors.append(mutant)
                    print(f"  SURVIVED {mutant}", flush=True)
    elapsed = time.monotonic() - started
    print(f"rules-mutation: {len(mutants)} mutants, {len(mutants) - len(survivors)} killed, "
          f"{len(survivors)} survived ({elapsed:.0f} s, {args.jobs} jobs)")
    for m in survivors:
        print(f"  SURVIVED {m}")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
