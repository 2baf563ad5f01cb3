"""The service's answers against its contract, docs/openapi.json.

harness.http() records every answer of a service that serve_util.Service started (its base URL is
registered with harness.record_answers_of); harness.main() then calls check_answers() and fails the test
run when an answer is not what the document promises: a status code the route does not list, a content
type it does not list, or a JSON body that does not validate against the documented schema. Paths the
document does not know (the tests' deliberate 404s) and methods a path does not have (405s) are the
server's generic refusals and are not checked here.

Validation uses python3-jsonschema (Debian 12). When the interpreter running the test lacks it, the
check runs under /usr/bin/python3 instead (`python3 openapi_util.py answers.json`); when neither has it
the check fails and says what to install — it is never skipped silently.

Also checks the document itself: it parses, says openapi 3.1.x, every $ref resolves and every schema
under components is a valid JSON Schema 2020-12.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

SOURCE_DIR = os.environ.get("TGPULSE_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
DOCUMENT = os.path.join(SOURCE_DIR, "docs", "openapi.json")
SYSTEM_PYTHON = "/usr/bin/python3"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def load_document(path=DOCUMENT):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _resolve(doc, ref):
    if not ref.startswith("#/"):
        raise ValueError(f"only local references are used: {ref}")
    node = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            raise KeyError(ref)
        node = node[part]
    return node


def _refs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                yield v
            else:
                yield from _refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from _refs(v)


def document_problems(doc):
    """What is wrong with the document as an OpenAPI 3.1 document (empty when nothing)."""
    import jsonschema
    problems = []
    if not str(doc.get("openapi", "")).startswith("3.1."):
        problems.append(f"openapi is {doc.get('openapi')!r}, not 3.1.x")
    for key in ("info", "paths", "components"):
        if not isinstance(doc.get(key), dict):
            problems.append(f"{key} is missing")
    for ref in _refs(doc):
        try:
            _resolve(doc, ref)
        except (KeyError, ValueError) as e:
            problems.append(f"$ref {ref} does not resolve ({e})")
    for name, schema in doc.get("components", {}).get("schemas", {}).items():
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.exceptions.SchemaError as e:
            problems.append(f"schema {name}: {e.message}")
    for path, item in doc.get("paths", {}).items():
        for method in METHODS:
            if method in item and not item[method].get("responses"):
                problems.append(f"{method.upper()} {path} documents no response")
    return problems


def _templates(doc):
    out = []
    for path in doc["paths"]:
        pattern = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path)) + "$"
        out.append((path.count("{"), path, re.compile(pattern)))
    return sorted(out)  # literal segments win over parameters, as in the router


def _validate(doc, schema, value):
    import jsonschema
    # "#/components/..." references resolve against the root, so the root carries the components.
    root = dict(schema)
    root["components"] = doc["components"]
    errors = sorted(jsonschema.Draft202012Validator(root).iter_errors(value), key=lambda e: list(e.path))
    return ["/".join(str(p) for p in e.absolute_path) + ": " + e.message for e in errors[:3]]


def answer_problems(doc, answers):
    """Each answer is {method, path, status, content_type, body}; returns the broken promises."""
    problems = []
    templates = _templates(doc)
    for a in answers:
        method = a["method"].lower()
        item = next((doc["paths"][p] for _, p, rx in templates if rx.match(a["path"])), None)
        if item is None:
            continue  # not an API path: the server's generic 404
        op = item.get("get" if method == "head" else method)
        if op is None:
            continue  # the server's generic 405
        what = f"{a['method']} {a['path']} -> {a['status']}"
        response = op["responses"].get(str(a["status"])) or op["responses"].get("default")
        if response is None:
            problems.append(f"{what}: status not documented (documented: {', '.join(op['responses'])})")
            continue
        if "$ref" in response:
            response = _resolve(doc, response["$ref"])
        content = response.get("content")
        if not content or method == "head":
            continue
        ctype = (a.get("content_type") or "").split(";")[0].strip().lower()
        if ctype not in content:
            problems.append(f"{what}: content type {ctype!r} not documented ({', '.join(content)})")
            continue
        schema = content[ctype].get("schema")
        if ctype != "application/json" or schema is None:
            continue
        try:
            body = json.loads(a["body"]) if a["body"] else None
        except ValueError:
            problems.append(f"{what}: the body is not JSON")
            continue
        for err in _validate(doc, schema, body):
            problems.append(f"{what}: {err}")
    return problems


def _has_jsonschema(python):
    try:
        return subprocess.run([python, "-c", "import jsonschema"], capture_output=True).returncode == 0
    except OSError:
        return False


def check_answers(answers):
    """The broken promises among `answers` (empty when none). Raises AssertionError when no interpreter
    here can validate (python3-jsonschema missing)."""
    try:
        import jsonschema  # noqa: F401
    except ImportError:
        if not _has_jsonschema(SYSTEM_PYTHON):
            raise AssertionError("cannot check the answers against docs/openapi.json: neither "
                                 f"{sys.executable} nor {SYSTEM_PYTHON} has jsonschema; install python3-jsonschema "
                                 "(scripts/install-deps.sh)")
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(answers, f)
        try:
            run = subprocess.run([SYSTEM_PYTHON, os.path.abspath(__file__), f.name], capture_output=True, text=True)
        finally:
            os.unlink(f.name)
        if run.returncode not in (0, 1):
            raise AssertionError(f"the answer check under {SYSTEM_PYTHON} failed: {run.stderr}")
        return [line for line in run.stdout.splitlines() if line]
    doc = load_document()
    return document_problems(doc) + answer_problems(doc, answers)


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as f:
        found = check_answers(json.load(f))
    for line in found:
        print(line)
    raise SystemExit(1 if found else 0)
