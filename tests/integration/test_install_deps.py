"""scripts/install-deps.sh never touches a service it did not just install.

`make` runs install-deps.sh on every build. It once stopped and disabled any running Prometheus or
Alertmanager (`systemctl disable --now`, `pkill`) whenever it installed anything at all — a user's own
monitoring, killed by `make`. Now the packages it installs are kept from starting by a temporary
policy-rc.d (Debian's mechanism, honoured by invoke-rc.d and deb-systemd-invoke), and only the units of
the packages installed just now are disabled for boot.

Each test runs a copy of the script in a temporary directory laid out like the repository (a fake
libtdjson.so and node_modules, so it downloads nothing), with shims for dpkg-query, apt-get, systemctl,
pkill, kill, npm and sudo first on PATH that record every call, and POLICY_RC_D pointing into the
temporary directory. Nothing on the machine is installed, started or stopped.
"""
import os
import re
import shutil
import signal
import stat
import subprocess
import tempfile

import harness

SCRIPT = os.path.join(harness.SOURCE_DIR, "scripts", "install-deps.sh")

# Every shim appends one line "<name> <args...>" to $SHIM_CALLS.
RECORD = 'printf "%s" "$(basename "$0")" >>"$SHIM_CALLS"; for a in "$@"; do printf " %s" "$a" >>"$SHIM_CALLS"; done; echo >>"$SHIM_CALLS"\n'

SHIMS = {
    # Installed unless named in $SHIM_MISSING (space-separated).
    "dpkg-query": RECORD + 'for p in $SHIM_MISSING; do [ "$p" = "${@: -1}" ] && exit 1; done\n'
                           'printf "install ok installed"\n',
    # Records, during the --no-install-recommends install, whether the policy file exists and what it
    # answers for "prometheus start" (101 = action forbidden). SHIM_APT_FAIL=1 fails that install;
    # SHIM_APT_HANG=1 marks it started and sleeps (to be interrupted).
    "apt-get": RECORD + 'case " $* " in *" --no-install-recommends "*)\n'
                        '  if [ -e "$POLICY_RC_D" ]; then "$POLICY_RC_D" prometheus start; rc=$?\n'
                        '    echo "policy-during-install exists exit=$rc" >>"$SHIM_CALLS"\n'
                        '  else echo "policy-during-install missing" >>"$SHIM_CALLS"; fi\n'
                        '  if [ "${SHIM_APT_HANG:-0}" = 1 ]; then touch "$SHIM_CALLS.hanging"; sleep 30; fi\n'
                        '  [ "${SHIM_APT_FAIL:-0}" = 1 ] && exit 100;;\n'
                        'esac\nexit 0\n',
    "systemctl": RECORD + "exit 0\n",
    "pkill": RECORD + "exit 0\n",
    "kill": RECORD + "exit 0\n",
    "npm": RECORD + "exit 0\n",
    "sudo": RECORD + 'exec "$@"\n',
}


def npm_packages_checked():
    """The npm packages install-deps.sh checks for in tests/node/node_modules (its `for pkg in` list)."""
    with open(SCRIPT) as f:
        m = re.search(r"^for pkg in ([^;]+); do", f.read(), re.M)
    harness.check(m is not None, "install-deps.sh no longer lists its npm packages in a `for pkg in` loop")
    return m.group(1).split()


class FakeRepo:
    """A temporary copy of the script in a repository layout, with the shims; removed afterwards."""

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="tgpulse-install-deps-")
        self.repo = os.path.join(self.root, "repo")
        os.makedirs(os.path.join(self.repo, "scripts"))
        shutil.copy(SCRIPT, os.path.join(self.repo, "scripts", "install-deps.sh"))
        os.makedirs(os.path.join(self.repo, "third_party", "tdlib"))
        open(os.path.join(self.repo, "third_party", "tdlib", "libtdjson.so"), "w").close()
        # Every npm package the script looks for, as the script lists it, installed.
        for module in npm_packages_checked():
            os.makedirs(os.path.join(self.repo, "tests", "node", "node_modules", module))
            open(os.path.join(self.repo, "tests", "node", "node_modules", module, "package.json"), "w").close()
        self.bin = os.path.join(self.root, "bin")
        os.makedirs(self.bin)
        for name, body in SHIMS.items():
            path = os.path.join(self.bin, name)
            with open(path, "w") as f:
                f.write("#!/bin/bash\n" + body)
            os.chmod(path, 0o755)
        self.calls_path = os.path.join(self.root, "calls")
        open(self.calls_path, "w").close()
        self.policy = os.path.join(self.root, "sbin", "policy-rc.d")
        os.makedirs(os.path.dirname(self.policy))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self.root, ignore_errors=True)

    def env(self, missing, **extra):
        env = {
            "PATH": self.bin + ":/usr/local/bin:/usr/bin:/bin",
            "HOME": self.root,
            "SHIM_CALLS": self.calls_path,
            "SHIM_MISSING": " ".join(missing),
            "POLICY_RC_D": self.policy,
        }
        env.update(extra)
        return env

    def run(self, missing, expect_ok=True, **extra):
        p = subprocess.run(["bash", os.path.join(self.repo, "scripts", "install-deps.sh")],
                           env=self.env(missing, **extra), capture_output=True, text=True, timeout=60)
        if expect_ok:
            harness.check(p.returncode == 0, f"install-deps exited {p.returncode}: {p.stdout}\n{p.stderr}")
        return p

    def calls(self, name=None):
        with open(self.calls_path) as f:
            lines = [line.rstrip("\n") for line in f if line.strip()]
        return [line for line in lines if name is None or line.split(" ", 1)[0] == name]


def service_calls(repo):
    """The calls that could stop, disable or kill a service."""
    return repo.calls("systemctl") + repo.calls("pkill") + repo.calls("kill")


def test_a_missing_library_touches_no_service():
    with FakeRepo() as repo:
        repo.run(["sqlite3"])
        installs = [c for c in repo.calls("apt-get") if " install " in c]
        harness.check(len(installs) == 1 and "sqlite3" in installs[0], f"apt-get installs: {installs}")
        harness.check("--no-install-recommends" not in installs[0], f"sqlite3 installed without recommends: {installs}")
        touching = [c for c in service_calls(repo) if "prometheus" in c]
        harness.check(not touching, f"a service it did not install was touched: {touching}")
        harness.check(not service_calls(repo), f"systemctl/pkill/kill called: {service_calls(repo)}")
        harness.check(not os.path.exists(repo.policy), "a policy-rc.d was left behind")


def test_prometheus_is_kept_from_starting_and_only_disabled():
    with FakeRepo() as repo:
        repo.run(["prometheus"])
        installs = [c for c in repo.calls("apt-get") if " install " in c]
        harness.check(installs == ["apt-get install -y -qq --no-install-recommends prometheus"],
                      f"apt-get installs: {installs}")
        harness.check(repo.calls("policy-during-install") == ["policy-during-install exists exit=101"],
                      f"the policy file during the install: {repo.calls('policy-during-install')}")
        harness.check(not os.path.exists(repo.policy), "the temporary policy-rc.d was not removed")
        harness.check(repo.calls("systemctl") == ["systemctl disable prometheus"],
                      f"systemctl calls: {repo.calls('systemctl')}")
        harness.check(not repo.calls("pkill") and not repo.calls("kill"),
                      f"pkill/kill called: {repo.calls('pkill') + repo.calls('kill')}")
        harness.check(all("--now" not in c and " stop" not in c for c in service_calls(repo)),
                      f"a service was stopped: {service_calls(repo)}")


def test_postgresql_gets_no_running_cluster():
    # Debian's postgresql-15 starts a cluster service on install (and postgresql-common creates a cluster
    # "main" on port 5432); the store's tests start their own server instead.
    with FakeRepo() as repo:
        createcluster_d = os.path.join(repo.root, "createcluster.d")
        repo.run(["postgresql-15", "postgresql-common"], PG_CREATECLUSTER_D=createcluster_d)
        installs = [c for c in repo.calls("apt-get") if " install " in c]
        harness.check(installs == ["apt-get install -y -qq --no-install-recommends postgresql-15"],
                      f"apt-get installs: {installs}")
        harness.check(repo.calls("policy-during-install") == ["policy-during-install exists exit=101"],
                      f"the policy file during the install: {repo.calls('policy-during-install')}")
        with open(os.path.join(createcluster_d, "tgpulse-no-main-cluster.conf")) as f:
            harness.check("create_main_cluster = false" in f.read(), "no createcluster drop-in")
        harness.check(repo.calls("systemctl") == ["systemctl disable postgresql"],
                      f"systemctl calls: {repo.calls('systemctl')}")
        harness.check(not os.path.exists(repo.policy), "the temporary policy-rc.d was not removed")
    with FakeRepo() as repo:  # postgresql-common already there: its configuration is not touched
        createcluster_d = os.path.join(repo.root, "createcluster.d")
        repo.run(["postgresql-15"], PG_CREATECLUSTER_D=createcluster_d)
        harness.check(not os.path.exists(createcluster_d), "createcluster.d written on a machine with PostgreSQL")


def test_only_the_packages_installed_now_are_disabled():
    with FakeRepo() as repo:
        repo.run(["prometheus-alertmanager", "sqlite3"])
        harness.check(repo.calls("systemctl") == ["systemctl disable prometheus-alertmanager"],
                      f"systemctl calls: {repo.calls('systemctl')}")
        harness.check(not repo.calls("pkill") and not repo.calls("kill"), "pkill/kill called")


def test_an_existing_policy_file_is_left_untouched():
    with FakeRepo() as repo:
        own = "#!/bin/sh\n# the administrator's own policy\nexit 0\n"
        with open(repo.policy, "w") as f:
            f.write(own)
        os.chmod(repo.policy, 0o750)
        before = os.stat(repo.policy)
        repo.run(["prometheus"])
        harness.check(os.path.exists(repo.policy), "the administrator's policy-rc.d was removed")
        with open(repo.policy) as f:
            harness.check(f.read() == own, "the administrator's policy-rc.d was rewritten")
        after = os.stat(repo.policy)
        harness.check(stat.S_IMODE(after.st_mode) == 0o750 and after.st_mtime_ns == before.st_mtime_ns,
                      "the administrator's policy-rc.d was modified")
        harness.check(repo.calls("policy-during-install") == ["policy-during-install exists exit=0"],
                      f"during the install: {repo.calls('policy-during-install')}")


def test_nothing_missing_calls_no_apt_get():
    with FakeRepo() as repo:
        p = repo.run([])
        harness.check(not repo.calls("apt-get"), f"apt-get called: {repo.calls('apt-get')}")
        harness.check(not service_calls(repo), f"service calls: {service_calls(repo)}")
        harness.check(not repo.calls("npm"), f"npm called although node_modules is there: {repo.calls('npm')}")
        harness.check("install-deps: ok" in p.stdout, f"stdout: {p.stdout}")


def test_a_failed_install_removes_the_policy_and_disables_nothing():
    with FakeRepo() as repo:
        p = repo.run(["prometheus"], expect_ok=False, SHIM_APT_FAIL="1")
        harness.check(p.returncode != 0, "a failed apt-get install was not reported")
        harness.check(not os.path.exists(repo.policy), "the temporary policy-rc.d survived a failed install")
        harness.check(not service_calls(repo), f"service calls after a failed install: {service_calls(repo)}")


def test_an_interrupted_install_removes_the_policy():
    # Ctrl-C during `make` signals the whole process group: the script must not leave a policy-rc.d
    # behind that would keep every service on the machine from starting at its next install or upgrade.
    with FakeRepo() as repo:
        p = subprocess.Popen(["bash", os.path.join(repo.repo, "scripts", "install-deps.sh")],
                             env=repo.env(["prometheus"], SHIM_APT_HANG="1"), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, start_new_session=True)
        try:
            harness.wait_until(lambda: os.path.exists(repo.calls_path + ".hanging"), timeout=30,
                               what="the no-recommends install to start")
            harness.check(os.path.exists(repo.policy), "no policy-rc.d during the install")
            os.killpg(p.pid, signal.SIGINT)
            p.wait(timeout=30)
        finally:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
            p.stdout.close()
            p.stderr.close()
        harness.check(p.returncode != 0, "an interrupted install exited 0")
        harness.wait_until(lambda: not os.path.exists(repo.policy), timeout=5,
                           what="the temporary policy-rc.d to go after Ctrl-C")
        harness.check(not service_calls(repo), f"service calls after an interrupted install: {service_calls(repo)}")


if __name__ == "__main__":
    harness.main([
        test_a_missing_library_touches_no_service,
        test_prometheus_is_kept_from_starting_and_only_disabled,
        test_postgresql_gets_no_running_cluster,
        test_only_the_packages_installed_now_are_disabled,
        test_an_existing_policy_file_is_left_untouched,
        test_nothing_missing_calls_no_apt_get,
        test_a_failed_install_removes_the_policy_and_disables_nothing,
        test_an_interrupted_install_removes_the_policy,
    ])
