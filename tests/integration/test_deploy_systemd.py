"""The systemd unit, as `cmake --install` writes it: its hardening, its command line (the installed binary,
real flags, the state directory as the data directory), its stop timeout against the drain, its secrets;
`systemd-analyze verify` and `security` on it; and the installed service run under the unit's system-call
rules (SystemCallFilter, MemoryDenyWriteExecute, RestrictAddressFamilies, NoNewPrivileges, an unprivileged
user: systemd_sandbox.py) on the simulator and on the real TDLib."""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

import deploy_util as du
import harness
from harness import check

SANDBOX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "systemd_sandbox.py")
ADMIN_TOKEN = "admin-" + "s" * 24
NOBODY = 65534
_prefix = []


def prefix():
    if not _prefix:
        path = tempfile.mkdtemp(prefix="tgpulse-systemd-")
        du.cmake_install(path)
        os.chmod(path, 0o755)  # the unprivileged user the sandbox runs as reaches the installed files
        _prefix.append(path)
    return _prefix[0]


def unit_path():
    return os.path.join(prefix(), "lib", "systemd", "system", "tgpulse.service")


def service():
    return du.load_unit(unit_path())["Service"]


def last(key):
    values = service().get(key)
    check(values, f"the unit does not set {key}=")
    return values[-1]


def exec_start():
    return last("ExecStart").split()


def data_dir():
    return "/var/lib/" + last("StateDirectory")


def installed_config():
    return du.load_yaml(du.flag_value(exec_start(), "--config"))


def test_hardening():
    expected = {
        "DynamicUser": "yes", "StateDirectory": "tgpulse", "ProtectSystem": "strict", "ProtectHome": "yes",
        "PrivateTmp": "yes", "PrivateDevices": "yes", "NoNewPrivileges": "yes", "CapabilityBoundingSet": "",
        "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes", "ProtectKernelLogs": "yes",
        "ProtectControlGroups": "yes", "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
        "RestrictNamespaces": "yes", "RestrictSUIDSGID": "yes", "LockPersonality": "yes",
        "MemoryDenyWriteExecute": "yes", "SystemCallArchitectures": "native", "Restart": "on-failure",
        "KillSignal": "SIGTERM", "Type": "exec",
    }
    for key, want in expected.items():
        check(last(key) == want, f"{key}={last(key)}, expected {want!r}")
    check(service()["SystemCallFilter"][0] == "@system-service", f"SystemCallFilter: {service()['SystemCallFilter']}")
    check("SystemCallErrorNumber" not in service(), "a forbidden call should kill the service, loudly")
    # Only the data directory (and the log file's directory, when the configuration sets one) is writable.
    writable = {data_dir()}
    log_path = (installed_config().get("log") or {}).get("path")
    if log_path and log_path != "-":
        writable.add(os.path.dirname(log_path))
    paths = " ".join(service().get("ReadWritePaths", [])).split()
    check(set(paths) <= writable, f"ReadWritePaths {paths} beyond {sorted(writable)}")
    check(last("WorkingDirectory") == data_dir(), f"WorkingDirectory {last('WorkingDirectory')}")
    # Descriptors: ≈ 8 per TDLib session at the default process-wide session cap, HTTP connections on top.
    sessions = int(du.documented_default("limits.process_sessions"))
    check(int(last("LimitNOFILE")) >= 8 * sessions, f"LimitNOFILE {last('LimitNOFILE')} < 8 x {sessions} sessions")
    check(last("RestartPreventExitStatus") == "2", "a configuration error (exit 2) must not restart in a loop")


def test_exec_start_runs_the_installed_binary_with_real_flags():
    args = exec_start()
    check(args[0] == os.path.join(prefix(), "bin", "tgpulse") and os.access(args[0], os.X_OK),
          f"ExecStart runs {args[0]}, not the installed binary")
    check(args[1] == "serve", f"ExecStart: {args}")
    flags = du.serve_help(args[0])
    for flag in du.flags_in(args[2:]):
        check(flag in flags, f"{flag} is not a flag of tgpulse serve")
    check(du.flag_value(args, "--data-dir") == data_dir(), f"--data-dir is not the StateDirectory {data_dir()}: {args}")
    config = du.flag_value(args, "--config")
    check(config and os.path.isfile(config), f"--config {config} is not installed")
    check("store" not in installed_config() or "data_dir" not in installed_config()["store"],
          "the configuration sets store.data_dir too: one place only")


def test_stop_timeout_is_longer_than_the_drain():
    timeout = du.seconds(last("TimeoutStopSec"))
    bound = du.drain_bound(installed_config())
    check(timeout >= bound + 20, f"TimeoutStopSec {timeout} s < drain bound {bound} s + 20 s (store pool, log flush)")
    check(last("KillMode") in ("mixed", "control-group"), last("KillMode"))


def test_secrets_reach_the_service_without_its_command_line():
    flags = du.serve_help()
    env_files = service().get("EnvironmentFile", [])
    check(len(env_files) == 1 and env_files[0].startswith("-"), f"EnvironmentFile: {env_files}")
    env_file = env_files[0][1:]
    check(os.stat(env_file).st_mode & 0o777 == 0o600, f"{env_file} is not mode 0600")
    known = du.serve_env_vars()
    with open(env_file) as f:
        named = re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", f.read(), re.M)
    check("TGPULSE_ADMIN_TOKEN" in named and "TGPULSE_TD_API_HASH" in named, f"{env_file} names {named}")
    for var in named:
        check(var in known, f"{env_file} names {var}, which tgpulse serve does not read")
    credential = last("LoadCredential")
    name, _, source = credential.partition(":")
    check(source == os.path.join(os.path.dirname(env_file), "master.key"), f"LoadCredential={credential}")
    master_env = flags["--master-key-file"][1]
    check(f"{master_env}=%d/{name}" in service().get("Environment", []),
          f"{master_env} does not point at the credential: {service().get('Environment')}")
    for arg in exec_start():
        check("TOKEN" not in arg.upper() and "KEY=" not in arg.upper(), f"a secret on the command line: {arg}")


def test_no_loaded_file_needs_writable_and_executable_memory():
    """What MemoryDenyWriteExecute breaks besides a JIT: an ELF file asking for an executable stack
    (GNU_STACK with E: the loader would mprotect the stack executable) or with text relocations (the loader
    would write into code). None of the service, the simulator, TDLib or the libraries they link has one."""
    binary = os.path.join(prefix(), "bin", "tgpulse")
    files = [binary] + sorted(glob.glob(os.path.join(prefix(), "lib", "tgpulse", "*.so")))
    ldd = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    files += re.findall(r"=> (/\S+)", ldd)
    check(len(files) >= 4, f"files: {files}")
    for path in files:
        headers = subprocess.run(["readelf", "-lW", path], capture_output=True, text=True, check=True).stdout
        stack = re.search(r"^\s*GNU_STACK\s.*?\s(R?W?E?)\s+(?:0x[0-9a-f]+|\d+)\s*$", headers, re.M)
        # No GNU_STACK header at all means an executable stack on x86-64.
        check(stack and "E" not in stack.group(1), f"{path}: GNU_STACK {stack.group(1) if stack else 'missing'}")
        dynamic = subprocess.run(["readelf", "-dW", path], capture_output=True, text=True, check=True).stdout
        check("TEXTREL" not in dynamic, f"{path} has text relocations")


def test_systemd_analyze_verify_is_clean():
    check(shutil.which("systemd-analyze"), "systemd-analyze is missing (Debian's systemd: scripts/install-deps.sh)")
    r = subprocess.run(["systemd-analyze", "verify", unit_path()], capture_output=True, text=True, timeout=120)
    mine = [line for line in (r.stdout + r.stderr).splitlines() if "tgpulse" in line]
    check(r.returncode == 0 and not mine, f"systemd-analyze verify: exit {r.returncode}\n{r.stdout}{r.stderr}")


def test_systemd_analyze_security_rates_it_ok():
    r = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager", unit_path()],
                       capture_output=True, text=True, timeout=120)
    m = re.search(r"Overall exposure level for tgpulse\.service: ([\d.]+) (\S+)", r.stdout + r.stderr)
    check(m, f"systemd-analyze security: exit {r.returncode}\n{r.stdout[-3000:]}{r.stderr}")
    # 0 is fully locked down, 10 fully exposed; systemd calls up to 1.9 "OK". What remains is what a
    # network service that talks to Telegram needs (IP sockets, no IPAddressDeny=).
    check(float(m.group(1)) <= 1.9, f"exposure {m.group(1)} {m.group(2)}:\n{r.stdout[-4000:]}")


class SandboxedService:
    """The unit's ExecStart under systemd_sandbox.py (its system-call rules, as an unprivileged user),
    with the data directory and the credentials directory moved to a temporary directory and the
    listeners to free loopback ports; `extra` flags last."""

    def __init__(self, extra=(), env=None):
        self.work = tempfile.mkdtemp(prefix="tgpulse-sandboxed-")
        os.chmod(self.work, 0o755)
        data = os.path.join(self.work, "data")
        credentials = os.path.join(self.work, "credentials")
        os.mkdir(data, 0o700)
        os.mkdir(credentials, 0o700)
        name = last("LoadCredential").partition(":")[0]
        key = os.path.join(credentials, name)
        subprocess.run([exec_start()[0], "keys", "generate", "--out", key], check=True, capture_output=True)
        os.chmod(key, 0o400)
        if os.geteuid() == 0:
            for path in (data, credentials, key):
                os.chown(path, NOBODY, NOBODY)
        self.data = data
        self.port, self.admin_port = harness.free_port(), harness.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = exec_start()
        args[args.index("--data-dir") + 1] = data
        args += ["--listen", f"127.0.0.1:{self.port}", "--admin-listen", f"127.0.0.1:{self.admin_port}", *extra]
        full_env = {"TGPULSE_ADMIN_TOKEN": ADMIN_TOKEN}
        for assignment in service().get("Environment", []):
            var, _, value = assignment.partition("=")
            full_env[var] = value.replace("%d", credentials)
        full_env.update(env or {})
        self.proc = harness.Proc([sys.executable, SANDBOX, unit_path(), "--", *args], env=full_env, name="tgpulse")
        try:
            harness.wait_until(lambda: not self.proc.alive() or self._ready(), timeout=30, what="/readyz 200")
            check(self.proc.alive(), f"the sandboxed service exited with {self.proc.p.returncode}:\n"
                                     f"{self.proc.stderr()[-2000:]}{self.proc.stdout()[-2000:]}")
        except BaseException:
            self.close()
            raise

    def _ready(self):
        try:
            return harness.http("GET", f"http://127.0.0.1:{self.admin_port}/readyz", timeout=2)[0] == 200
        except OSError:
            return False

    def tenant(self):
        status, _, doc = harness.http_json("POST", self.url + "/v1/tenants", {"tenant_id": "sandboxed"},
                                           {"Authorization": "Bearer " + ADMIN_TOKEN})
        check(status == 201, f"tenant: {status} {doc}")
        return {"Authorization": "Bearer " + doc["token"]}

    def delete_session(self, auth, sid, timeout):
        """DELETE the session and wait until its directory is gone (logOut or close, then removal)."""
        status, _, _ = harness.http("DELETE", f"{self.url}/v1/sessions/{sid}", headers=auth)
        check(status in (200, 202, 204), f"DELETE: {status}")
        harness.wait_until(lambda: not os.path.exists(os.path.join(self.data, "sessions", sid)), timeout=timeout,
                           what="the session directory removed")

    def stop_cleanly(self):
        code = self.proc.stop(timeout=60)
        out, err = self.proc.stdout(), self.proc.stderr()
        check(code == 0, f"exit {code} after SIGTERM (-31 = killed by the system-call filter):\n{err[-2000:]}{out[-2000:]}")
        check("session keys encrypted at rest" in out, "the master key credential was not used")
        check("Shutdown complete" in out, "no 'Shutdown complete'")

    def close(self):
        self.proc.stop()
        shutil.rmtree(self.work, ignore_errors=True)


def sanitizer_skips():
    """A sanitizer's runtime makes calls of its own that no service unit would allow (LeakSanitizer
    ptraces the process at exit, @debug): those builds skip the sandboxed runs; the plain build (the first
    phase of CI) makes them."""
    if harness.sanitizer_build():
        print(f"  ({harness.sanitizer_build()} build: not run under the unit's system-call rules)", flush=True)
        return True
    return False


def test_runs_under_the_units_system_call_rules_on_the_simulator():
    """A QR login scanned through the simulator, an invoke, a deletion (logOut, close, the directory
    removed), a clean stop: the whole life of a session inside the sandbox."""
    if sanitizer_skips():
        return
    control_port = harness.free_port()
    lib = os.path.join(prefix(), "lib", "tgpulse", "libtdsim.so")
    svc = SandboxedService(extra=["--td-library", lib], env={"TDSIM_CONTROL_ADDR": f"127.0.0.1:{control_port}"})
    try:
        auth = svc.tenant()
        status, _, doc = harness.http_json("POST", svc.url + "/v1/qr-logins", {}, auth)
        check(status == 201, f"qr-login: {status} {doc}")
        sid = doc["session_id"]
        link = harness.wait_until(
            lambda: harness.http_json("GET", f"{svc.url}/v1/qr-logins/{sid}", headers=auth)[2].get("link"),
            timeout=20, what="QR link")
        status, _, scan = harness.http_json("POST", f"http://127.0.0.1:{control_port}/scan",
                                            {"link": link, "outcome": "accept"})
        check(status == 200, f"scan: {status} {scan}")
        harness.wait_until(
            lambda: harness.http_json("GET", f"{svc.url}/v1/qr-logins/{sid}", headers=auth)[2].get("status") == "authorized",
            timeout=30, what="authorized")
        status, _, me = harness.http_json("POST", f"{svc.url}/v1/sessions/{sid}/invoke", {"@type": "getMe"}, auth)
        check(status == 200, f"invoke getMe: {status} {me}")
        svc.delete_session(auth, sid, timeout=30)
        svc.stop_cleanly()
    finally:
        svc.close()


def test_runs_under_the_units_system_call_rules_on_the_real_tdlib():
    """TDLib 1.8.67 as the installed configuration names it: it opens a session's database (td.binlog)
    and starts its network threads (offline here, so the login waits), then the login is deleted and the
    service stopped. Neither the filter (SIGSYS) nor MemoryDenyWriteExecute stops it."""
    if sanitizer_skips():
        return
    check(os.path.isfile(harness.TDJSON_LIB), f"{harness.TDJSON_LIB} is missing (scripts/install-deps.sh)")
    check(installed_config()["td"]["library"] == os.path.join(prefix(), "lib", "tgpulse", "libtdjson.so"),
          "the installed configuration does not name the installed TDLib")
    svc = SandboxedService()
    try:
        auth = svc.tenant()
        status, _, doc = harness.http_json("POST", svc.url + "/v1/qr-logins", {}, auth)
        check(status == 201, f"qr-login on TDLib: {status} {doc}")
        sid = doc["session_id"]
        binlog = os.path.join(svc.data, "sessions", sid, "td.binlog")
        harness.wait_until(lambda: os.path.exists(binlog), timeout=30, what="TDLib's td.binlog")
        svc.delete_session(auth, sid, timeout=60)
        svc.stop_cleanly()
    finally:
        svc.close()


def test_the_sandbox_emulation_refuses_what_the_unit_forbids():
    """The emulation is not vacuous: under it a writable and executable mapping, a netlink socket and a
    call outside @system-service are refused as systemd would refuse them."""
    probe = (
        "import mmap, socket, errno\n"
        "try:\n    mmap.mmap(-1, 4096, prot=7); print('wx-mapped')\n"
        "except OSError as e: print('wx-refused', e.errno == errno.EPERM)\n"
        "try:\n    socket.socket(16, socket.SOCK_RAW, 0); print('netlink-opened')\n"
        "except OSError as e: print('netlink-refused', e.errno == errno.EAFNOSUPPORT)\n"
        "import os; os.sync()\nprint('sync-ok')\n"
        "import ctypes; ctypes.CDLL(None).sethostname(b'x', 1); print('sethostname-returned')\n")
    # Debian's interpreter: the unprivileged user may not reach the one running this test (e.g. under /root).
    python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    r = subprocess.run([sys.executable, SANDBOX, unit_path(), "--", python, "-c", probe],
                       capture_output=True, text=True, timeout=60)
    check(r.stdout.split() == ["wx-refused", "True", "netlink-refused", "True", "sync-ok"],
          f"under the sandbox: {r.stdout!r} {r.stderr[-500:]!r}")
    check(r.returncode == -31, f"sethostname did not kill the process with SIGSYS: exit {r.returncode}")


if __name__ == "__main__":
    try:
        harness.main([
            test_hardening,
            test_exec_start_runs_the_installed_binary_with_real_flags,
            test_stop_timeout_is_longer_than_the_drain,
            test_secrets_reach_the_service_without_its_command_line,
            test_no_loaded_file_needs_writable_and_executable_memory,
            test_systemd_analyze_verify_is_clean,
            test_systemd_analyze_security_rates_it_ok,
            test_the_sandbox_emulation_refuses_what_the_unit_forbids,
            test_runs_under_the_units_system_call_rules_on_the_simulator,
            test_runs_under_the_units_system_call_rules_on_the_real_tdlib,
        ])
    finally:
        for p in _prefix:
            shutil.rmtree(p, ignore_errors=True)
