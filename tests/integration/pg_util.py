"""A real PostgreSQL 15 for the integration tests: initdb and pg_ctl from Debian's postgresql-15 in a
temporary directory (as `nobody` when the tests run as root: PostgreSQL refuses root), listening on
127.0.0.1 and a free port only, SCRAM passwords over TCP, fsync off; stopped and removed at the end."""
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile

import harness

BIN = "/usr/lib/postgresql/15/bin"


class PostgresServer:
    """`with PostgresServer() as pg:` — pg.url (no password), pg.password, pg.password_file."""

    def __init__(self):
        if not os.path.exists(os.path.join(BIN, "initdb")):
            raise AssertionError(f"PostgreSQL 15 is not installed (no {BIN}/initdb): run scripts/install-deps.sh")
        self.dir = tempfile.mkdtemp(prefix="tgpulse-pg-")
        self.password = "pg-" + secrets.token_hex(12)
        self.running = False
        try:
            self._start()
        except BaseException:
            self.close()
            raise

    def _run(self, *args):
        prefix = ["runuser", "-u", "nobody", "--"] if os.geteuid() == 0 else []
        p = subprocess.run(prefix + list(args), capture_output=True, text=True, timeout=120)
        if p.returncode != 0:
            raise AssertionError(f"{args[0]} failed: {p.stdout}\n{p.stderr}")
        return p

    def _start(self):
        pwfile = os.path.join(self.dir, "initdb.pw")
        with open(pwfile, "w") as f:
            f.write(self.password + "\n")
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            for path in (self.dir, pwfile):
                os.chown(path, nobody.pw_uid, nobody.pw_gid)
        data = os.path.join(self.dir, "data")
        self._run(f"{BIN}/initdb", "-D", data, "-U", "tgpulse", f"--pwfile={pwfile}", "--auth-host=scram-sha-256",
                  "--auth-local=trust", "-E", "UTF8", "--no-locale", "-N")
        os.remove(pwfile)
        self.port = harness.free_port()
        self._opts = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} -c fsync=off "
                      "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._run(f"{BIN}/pg_ctl", "-D", data, "-l", os.path.join(self.dir, "postgres.log"), "-w", "-t", "60",
                  "-o", self._opts, "start")
        self.running = True
        self.url = f"postgresql://tgpulse@127.0.0.1:{self.port}/postgres"
        # The password as the service reads it: a file of its own, 0600, outside the server's directory.
        self.secrets_dir = tempfile.mkdtemp(prefix="tgpulse-pg-secret-")
        self.password_file = os.path.join(self.secrets_dir, "store.password")
        with open(self.password_file, "w") as f:
            f.write(self.password + "\n")
        os.chmod(self.password_file, 0o600)

    def stop(self):
        """Stops the server (fast shutdown: connections are cut); start() brings it back on the same port."""
        self._run(f"{BIN}/pg_ctl", "-D", os.path.join(self.dir, "data"), "-m", "fast", "-w", "stop")
        self.running = False

    def start(self):
        self._run(f"{BIN}/pg_ctl", "-D", os.path.join(self.dir, "data"), "-l", os.path.join(self.dir, "postgres.log"),
                  "-w", "-t", "60", "-o", self._opts, "start")
        self.running = True

    def psql(self, sql):
        """Runs SQL over the unix socket (trust) and returns its unaligned output."""
        return self._run(f"{BIN}/psql", "-h", self.dir, "-p", str(self.port), "-U", "tgpulse", "-d", "postgres",
                         "-At", "-c", sql).stdout

    def log(self):
        try:
            with open(os.path.join(self.dir, "postgres.log")) as f:
                return f.read()
        except OSError:
            return ""

    def close(self):
        if self.running:
            self.running = False
            self._run(f"{BIN}/pg_ctl", "-D", os.path.join(self.dir, "data"), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)
        if getattr(self, "secrets_dir", None):
            shutil.rmtree(self.secrets_dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
