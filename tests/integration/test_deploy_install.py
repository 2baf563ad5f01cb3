"""`cmake --install`: the tree it lays out under a prefix (the service, the simulator and TDLib, the systemd
unit, configuration, docs, monitoring files), the paths written into the unit and the configuration, a
reinstall that keeps what an operator edited, DESTDIR, and the installed binary running on the installed
configuration."""
import filecmp
import glob
import os
import shutil
import stat
import subprocess
import tempfile

import deploy_util as du
import harness
from harness import check

_prefix = []


def prefix():
    """A prefix installed once for the tests of this file (removed at exit)."""
    if not _prefix:
        path = tempfile.mkdtemp(prefix="tgpulse-install-")
        du.cmake_install(path)
        _prefix.append(path)
    return _prefix[0]


def at(*parts):
    return os.path.join(prefix(), *parts)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_tree():
    expected = {
        "bin/tgpulse": 0o755,
        "lib/tgpulse/libtdsim.so": None,
        "lib/systemd/system/tgpulse.service": 0o644,
        "etc/tgpulse/tgpulse.yaml": 0o644,
        "etc/tgpulse/tgpulse.env": 0o600,
        "share/doc/tgpulse/README.md": 0o644,
        "share/doc/tgpulse/deployment.md": 0o644,
        "share/doc/tgpulse/configuration.md": 0o644,
        "share/doc/tgpulse/operations.md": 0o644,
        "share/doc/tgpulse/examples/tgpulse.yaml": 0o644,
        "share/doc/tgpulse/examples/tgpulse.env": 0o600,
        "share/tgpulse/grafana/dashboards/tgpulse.json": 0o644,
        "share/tgpulse/alertmanager/alertmanager.yml": 0o644,
    }
    if os.path.exists(harness.TDJSON_LIB):
        expected["lib/tgpulse/libtdjson.so"] = 0o644
    for rel, want in expected.items():
        path = at(rel)
        check(os.path.isfile(path), f"{rel} is not installed")
        if want is not None:
            check(mode(path) == want, f"{rel}: mode {oct(mode(path))}, expected {oct(want)}")
    rules = sorted(os.path.basename(p) for p in glob.glob(at("share/tgpulse/prometheus/rules/*.yml")))
    check(rules == sorted(os.path.basename(p) for p in du.RULE_FILES), f"installed rules: {rules}")
    for src in du.RULE_FILES:
        check(filecmp.cmp(src, at("share/tgpulse/prometheus/rules", os.path.basename(src)), shallow=False),
              f"{src} installed changed")
    docs = sorted(os.path.basename(p) for p in glob.glob(os.path.join(du.DOCS, "*.md")))
    missing = [d for d in docs if not os.path.isfile(at("share/doc/tgpulse", d))]
    check(not missing, f"docs not installed: {missing}")


def test_installed_files_name_the_installed_paths():
    unit = du.load_unit(at("lib/systemd/system/tgpulse.service"))
    exec_start = unit["Service"]["ExecStart"][-1].split()
    check(exec_start[0] == at("bin/tgpulse"), f"ExecStart runs {exec_start[0]}, installed: {at('bin/tgpulse')}")
    check(du.flag_value(exec_start, "--config") == at("etc/tgpulse/tgpulse.yaml"), f"ExecStart: {exec_start}")
    check(unit["Service"]["EnvironmentFile"] == ["-" + at("etc/tgpulse/tgpulse.env")], unit["Service"]["EnvironmentFile"])
    config = du.load_yaml(at("etc/tgpulse/tgpulse.yaml"))
    check(config["td"]["library"] == at("lib/tgpulse/libtdjson.so"), f"td.library: {config['td']['library']}")
    for rel in ("lib/systemd/system/tgpulse.service", "etc/tgpulse/tgpulse.yaml", "etc/tgpulse/tgpulse.env",
                "share/doc/tgpulse/examples/tgpulse.yaml"):
        with open(at(rel)) as f:
            text = f.read()
        check("@TGPULSE_" not in text, f"{rel} keeps a placeholder: {text[text.find('@TGPULSE_'):][:40]}")


def test_installed_binary_answers_version_and_help():
    binary = at("bin/tgpulse")
    out = subprocess.run([binary, "version"], capture_output=True, text=True, timeout=30)
    check(out.returncode == 0 and out.stdout.startswith("tgpulse "), f"version: {out.returncode} {out.stdout}{out.stderr}")
    for args in (["--help"], ["serve", "--help"]):
        out = subprocess.run([binary, *args], capture_output=True, text=True, timeout=30)
        check(out.returncode == 0 and "Usage:" in out.stdout, f"{args}: {out.returncode} {out.stderr}")
    ldd = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    check("not found" not in ldd, f"the installed binary misses libraries:\n{ldd}")
    check(du.serve_help(binary) == du.serve_help(), "the installed binary's flags differ from the build's")


def test_installed_binary_serves_on_the_installed_configuration():
    """The installed configuration as it is, on the installed simulator (TDLib needs an api_id): /readyz
    answers 200 on the configuration's admin listener, SIGTERM ends it with 0."""
    work = tempfile.mkdtemp(prefix="tgpulse-installed-")
    try:
        port, admin_port = harness.free_port(), harness.free_port()
        config = du.load_yaml(at("etc/tgpulse/tgpulse.yaml"))
        check(config["server"]["admin_listen"].startswith("127.0.0.1:"), "the admin listener is not on loopback")
        args = [at("bin/tgpulse"), "serve", "--config", at("etc/tgpulse/tgpulse.yaml"), "--data-dir", work,
                "--listen", f"127.0.0.1:{port}", "--admin-listen", f"127.0.0.1:{admin_port}",
                "--td-library", at("lib/tgpulse/libtdsim.so")]
        with harness.Proc(args, name="tgpulse") as p:
            harness.wait_until(lambda: _status(f"http://127.0.0.1:{admin_port}/readyz") == 200, timeout=30,
                               what="/readyz 200")
            code = p.stop()
            check(code == 0, f"exit {code}:\n{p.stderr()[-2000:]}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _status(url):
    try:
        return harness.http("GET", url, timeout=2)[0]
    except OSError:
        return None


def test_reinstall_keeps_the_edited_configuration_and_secrets():
    path = tempfile.mkdtemp(prefix="tgpulse-reinstall-")
    try:
        du.cmake_install(path)
        config = os.path.join(path, "etc/tgpulse/tgpulse.yaml")
        env = os.path.join(path, "etc/tgpulse/tgpulse.env")
        unit = os.path.join(path, "lib/systemd/system/tgpulse.service")
        with open(config, "a") as f:
            f.write("# edited\n")
        with open(env, "a") as f:
            f.write("TGPULSE_ADMIN_TOKEN=edited-edited-edited\n")
        with open(unit, "a") as f:
            f.write("# stale\n")
        out = du.cmake_install(path)
        check("Kept: " + config in out and "Kept: " + env in out, f"the reinstall did not say it kept them:\n{out}")
        check(open(config).read().endswith("# edited\n"), "the reinstall overwrote tgpulse.yaml")
        check(open(env).read().endswith("edited-edited-edited\n"), "the reinstall overwrote tgpulse.env")
        check(mode(env) == 0o600, f"tgpulse.env mode {oct(mode(env))}")
        check("# stale" not in open(unit).read(), "the reinstall kept a stale unit")
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_destdir_install_for_the_usr_prefix():
    """A package build: DESTDIR=stage, prefix /usr. Files land under the stage; the unit and the
    configuration name /usr/bin and /etc, where the package puts them."""
    stage = tempfile.mkdtemp(prefix="tgpulse-stage-")
    try:
        du.cmake_install("/usr", destdir=stage)
        for rel in ("usr/bin/tgpulse", "usr/lib/tgpulse/libtdsim.so", "usr/lib/systemd/system/tgpulse.service",
                    "etc/tgpulse/tgpulse.yaml", "etc/tgpulse/tgpulse.env", "usr/share/doc/tgpulse/deployment.md"):
            check(os.path.isfile(os.path.join(stage, rel)), f"{rel} not staged")
        unit = du.load_unit(os.path.join(stage, "usr/lib/systemd/system/tgpulse.service"))
        exec_start = unit["Service"]["ExecStart"][-1].split()
        check(exec_start[:4] == ["/usr/bin/tgpulse", "serve", "--config", "/etc/tgpulse/tgpulse.yaml"], exec_start)
        check(unit["Service"]["LoadCredential"] == ["master.key:/etc/tgpulse/master.key"], unit["Service"]["LoadCredential"])
        config = du.load_yaml(os.path.join(stage, "etc/tgpulse/tgpulse.yaml"))
        check(config["td"]["library"] == "/usr/lib/tgpulse/libtdjson.so", config["td"]["library"])
    finally:
        shutil.rmtree(stage, ignore_errors=True)


if __name__ == "__main__":
    try:
        harness.main([
            test_the_tree,
            test_installed_files_name_the_installed_paths,
            test_installed_binary_answers_version_and_help,
            test_installed_binary_serves_on_the_installed_configuration,
            test_reinstall_keeps_the_edited_configuration_and_secrets,
            test_destdir_install_for_the_usr_prefix,
        ])
    finally:
        for p in _prefix:
            shutil.rmtree(p, ignore_errors=True)
