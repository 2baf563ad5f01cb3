#!/usr/bin/env python3
"""Checks the coroutine rules of docs/architecture.md ("Execution model") that a token scan can check.

  detached        `asio::detached` outside tests and core/task_group: every spawned coroutine belongs to
                  a TaskGroup, which cancels and joins it.
  spawn-this      a lambda capturing `this` passed to co_spawn() or a TaskGroup's spawn(): the object may
                  die before the coroutine. Allowed only with `// lint: joined-owner` on the lines of the
                  call, where the owner joins the group before it is destroyed (say so next to it).
  await-lambda    `co_await` in a function call's argument list that also holds a lambda, or a
                  `co_await` of a call whose arguments hold a lambda: GCC 12 destroys such a temporary
                  twice. Name the lambda (and the awaitable) first.

Best effort: comments, strings and character literals are blanked before the scan; a lambda is `[...]`
not preceded by an expression and followed by `(`, `{`, `->`, `<` or `mutable`.

Usage: lint-coroutines.py [PATH...]   (default: the repository's src/). Exit 1 with one line per finding.
"""
import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
MARKER = "lint: joined-owner"
SOURCE_EXT = (".cc", ".h", ".hpp", ".cpp")


def blank(text):
    """Replaces comments, string and char literals by spaces (newlines kept, so offsets and lines hold)."""
    out = list(text)
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            for k in range(i, j):
                out[k] = " "
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            for k in range(i, j):
                if out[k] != "\n":
                    out[k] = " "
            i = j
        elif c == 'R' and text.startswith('R"', i) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'R"([^(\s]*)\(', text[i:])
            if not m:
                i += 1
                continue
            end = text.find(")" + m.group(1) + '"', i)
            end = n if end < 0 else end + len(m.group(1)) + 2
            for k in range(i + 1, end):
                if out[k] != "\n":
                    out[k] = " "
            i = end
        elif c in "\"'":
            if c == "'" and i > 0 and text[i - 1].isalnum():  # digit separator 1'000
                i += 1
                continue
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            for k in range(i + 1, min(j, n)):
                out[k] = " "
            i = j + 1
        else:
            i += 1
    return "".join(out)


LAMBDA = re.compile(r"\[[^\[\]]*\]\s*(?:\(|\{|->|<|mutable\b)")
SPAWN_CALL = re.compile(r"\b(?:co_spawn|spawn)\s*\(")
CO_AWAIT = re.compile(r"\bco_await\b")


def is_lambda_at(code, m):
    """Whether the `[` at m.start() opens a lambda rather than a subscript or an attribute."""
    j = m.start() - 1
    while j >= 0 and code[j] in " \t\n":
        j -= 1
    if j >= 0 and (code[j].isalnum() or code[j] in "_)]"):
        return False  # a subscript: a[i](...)
    return not code.startswith("[[", m.start())


def lambdas_in(code, start, end):
    return [m for m in LAMBDA.finditer(code, start, end) if is_lambda_at(code, m)]


def match_paren(code, open_at):
    depth = 0
    for j in range(open_at, len(code)):
        if code[j] == "(":
            depth += 1
        elif code[j] == ")":
            depth -= 1
            if depth == 0:
                return j
    return len(code) - 1


def statement_end(code, start):
    """The `;` (or unbalanced closer) ending the expression that starts at `start`."""
    depth = 0
    for j in range(start, len(code)):
        ch = code[j]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            if depth == 0:
                return j
            depth -= 1
        elif ch == ";" and depth == 0:
            return j
    return len(code)


def enclosing_call(code, pos):
    """The `(` of the innermost argument list around `pos` within the same statement, or -1."""
    depth = 0
    j = pos - 1
    while j >= 0:
        ch = code[j]
        if ch in ")]":
            depth += 1
        elif ch == "}":
            return -1
        elif ch in "([":
            if depth == 0:
                return j if ch == "(" else -1
            depth -= 1
        elif ch == "{" or (ch == ";" and depth == 0):
            return -1
        j -= 1
    return -1


def top_level_awaits(code, start, end):
    """co_await tokens in code[start:end] that are not inside a lambda body (braces) there."""
    found, depth = [], 0
    j = start
    while j < end:
        ch = code[j]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif depth == 0 and code.startswith("co_await", j) and CO_AWAIT.match(code, j):
            found.append(j)
        j += 1
    return found


def line_of(code, pos):
    return code.count("\n", 0, pos) + 1


def is_test_path(rel):
    base = os.path.basename(rel)
    return ("_test" in base or base.endswith("test_support.h") or base.endswith("test_fixture.h")
            or "/tests/" in "/" + rel or "/bench/" in "/" + rel)


def lint_text(rel, text):
    code = blank(text)
    raw_lines = text.splitlines()
    findings = []

    def add(pos, rule, what):
        findings.append((rel, line_of(code, pos), rule, what))

    exempt_detached = is_test_path(rel) or os.path.basename(rel).startswith("task_group")
    if not exempt_detached:
        for m in re.finditer(r"\bdetached\b", code):
            before = code[max(0, m.start() - 8):m.start()]
            if before.endswith("asio::") or re.search(r"\bdetached\s*\)", code[m.start():m.start() + 20]):
                add(m.start(), "detached", "spawned detached: spawn it into the owner's TaskGroup")

    for m in SPAWN_CALL.finditer(code):
        open_at = m.end() - 1
        close_at = match_paren(code, open_at)
        for lam in lambdas_in(code, open_at, close_at):
            capture = code[lam.start():code.index("]", lam.start()) + 1]
            if re.search(r"\bthis\b", capture):
                first, last = line_of(code, m.start()), line_of(code, close_at)
                if any(MARKER in raw_lines[k - 1] for k in range(first, min(last, len(raw_lines)) + 1)):
                    continue
                add(lam.start(), "spawn-this", "a lambda capturing `this` is spawned; capture a shared_ptr "
                    "(or mark a group its owner joins: // " + MARKER + ")")

    for m in CO_AWAIT.finditer(code):
        # co_await f(..., [..]{...}, ...): the awaited call holds a lambda temporary.
        end = statement_end(code, m.end())
        if lambdas_in(code, m.end(), end):
            add(m.start(), "await-lambda", "co_await of a call holding a lambda temporary: name the lambda first")
            continue
        # g(co_await f(), [..]{...}): an argument list with a co_await and a lambda.
        open_at = enclosing_call(code, m.start())
        if open_at >= 0:
            close_at = match_paren(code, open_at)
            if lambdas_in(code, open_at, close_at) and m.start() in top_level_awaits(code, open_at + 1, close_at):
                add(m.start(), "await-lambda", "co_await inside an argument list that holds a lambda: name both first")
    return findings


def iter_files(paths):
    for p in paths:
        if os.path.isfile(p):
            yield p
            continue
        for dirpath, _, names in os.walk(p):
            for name in sorted(names):
                if name.endswith(SOURCE_EXT):
                    yield os.path.join(dirpath, name)


def main(argv):
    paths = argv[1:] or [os.path.join(ROOT, "src")]
    findings = []
    for path in iter_files(paths):
        rel = os.path.relpath(path, ROOT)
        with open(path, encoding="utf-8", errors="replace") as f:
            findings += lint_text(rel, f.read())
    for rel, line, rule, what in findings:
        print(f"{rel}:{line}: [{rule}] {what}")
    if findings:
        print(f"{len(findings)} coroutine rule violation(s); see docs/architecture.md, \"Execution model\"")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
