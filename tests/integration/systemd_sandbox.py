"""Runs a command under the seccomp rules a systemd unit's sandbox installs, without systemd.

    python3 systemd_sandbox.py UNIT_FILE -- COMMAND [ARGS...]

The machines tgpulse is tested on run no systemd as PID 1, so a unit cannot be started there. What
decides whether the service works inside its sandbox's system-call rules can still be run: this script
reads these settings of the unit's [Service] section and installs the same rules as systemd 252 in its own
process, then execs COMMAND (which keeps them, as does every child):

- DynamicUser=yes (or User=): started as root, the command runs as nobody (65534:65534, no
  supplementary groups, so no capabilities), as systemd runs it as an unprivileged user — some code
  behaves differently as root (SQLite fchowns its journal, which SystemCallFilter=~@privileged forbids);
- NoNewPrivileges=yes: PR_SET_NO_NEW_PRIVS (also needed to install a filter without privileges);
- SystemCallFilter= (an allow-list of groups and names, then `~` lines removing from it), with
  SystemCallArchitectures=native: any other call, or a call of another ABI, kills the process with
  SIGSYS, as systemd does when SystemCallErrorNumber= is not set. The groups are expanded by
  `systemd-analyze syscall-filter`; numbers come from the kernel headers (linux-libc-dev);
- MemoryDenyWriteExecute=yes: mmap with PROT_WRITE|PROT_EXEC, mprotect/pkey_mprotect with PROT_EXEC and
  shmat with SHM_EXEC fail with EPERM (systemd 252's seccomp rules for it);
- RestrictAddressFamilies=: socket() of another family fails with EAFNOSUPPORT.

Everything else in the unit (namespaces, mounts, the dynamic user, capabilities) needs systemd or root
and is checked by `systemd-analyze verify`/`security` instead. x86-64 only; stdlib only.
"""
import ctypes
import errno
import os
import platform
import re
import subprocess
import sys

UNISTD = "/usr/include/x86_64-linux-gnu/asm/unistd_64.h"
AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
RET_ALLOW = 0x7FFF0000
RET_KILL_PROCESS = 0x80000000
RET_ERRNO = 0x00050000
NOBODY = 65534
PROT_WRITE, PROT_EXEC = 0x2, 0x4
SHM_EXEC = 0o100000
FAMILIES = {"AF_UNIX": 1, "AF_LOCAL": 1, "AF_INET": 2, "AF_INET6": 10, "AF_NETLINK": 16, "AF_PACKET": 17}

# struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6] (little endian: the
# low 32 bits of args[i] at 16 + 8 i).
OFF_NR, OFF_ARCH = 0, 4


def off_arg(i):
    return 16 + 8 * i


def load_unit(path):
    """A unit file as {section: {key: [values in order]}} (continuation lines joined; an empty assignment
    kept as "", which resets a list setting in systemd)."""
    unit, section = {}, None
    with open(path) as f:
        text = f.read().replace("\\\n", " ")
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = unit.setdefault(line[1:-1], {})
            continue
        key, sep, value = line.partition("=")
        if not sep or section is None:
            raise SystemExit(f"systemd_sandbox: {path}: not a setting: {line!r}")
        section.setdefault(key.strip(), []).append(value.strip())
    return unit


def syscall_numbers():
    with open(UNISTD) as f:
        return {m.group(1): int(m.group(2)) for m in re.finditer(r"#define __NR_(\w+)\s+(\d+)", f.read())}


def syscall_groups():
    """{"@group": [members, nested groups included as "@name"]} from systemd-analyze."""
    out = subprocess.run(["systemd-analyze", "syscall-filter"], capture_output=True, text=True, check=True).stdout
    groups, current = {}, None
    for line in out.splitlines():
        if line.startswith("@"):
            current = groups.setdefault(line.strip(), [])
        elif current is not None and line.strip() and not line.strip().startswith("#"):
            current.append(line.strip())
    return groups


def expand(names, groups, seen=None):
    seen = set() if seen is None else seen
    out = set()
    for name in names:
        if name.startswith("@"):
            if name in seen:
                continue
            seen.add(name)
            if name not in groups:
                raise SystemExit(f"systemd_sandbox: unknown group {name}")
            out |= expand(groups[name], groups, seen)
        else:
            out.add(name)
    return out


def allowed_syscalls(filters, groups):
    """The allow-list SystemCallFilter= lines make, in systemd's order (the first line sets the mode)."""
    allowed = None
    for value in filters:
        deny = value.startswith("~")
        names = value.lstrip("~").split()
        if allowed is None:
            if deny:
                raise SystemExit("systemd_sandbox: a deny-list unit is not emulated")
            allowed = set()
        if deny:
            allowed -= expand(names, groups)
        else:
            allowed |= expand(names, groups)
    return allowed


class Program:
    """A classic-BPF program with forward jumps to labels."""

    def __init__(self):
        self.code = []  # [code, jt, jf, k] with jt/jf as label names or ints
        self.labels = {}

    def ld(self, offset):
        self.code.append([0x20, 0, 0, offset])  # BPF_LD | BPF_W | BPF_ABS

    def jeq(self, k, jt=0, jf=0):
        self.code.append([0x15, jt, jf, k])  # BPF_JMP | BPF_JEQ | BPF_K

    def jge(self, k, jt=0, jf=0):
        self.code.append([0x35, jt, jf, k])  # BPF_JMP | BPF_JGE | BPF_K

    def jset(self, k, jt=0, jf=0):
        self.code.append([0x45, jt, jf, k])  # BPF_JMP | BPF_JSET | BPF_K

    def ret(self, k):
        self.code.append([0x06, 0, 0, k])  # BPF_RET | BPF_K

    def label(self, name):
        self.labels[name] = len(self.code)

    def assemble(self):
        class Insn(ctypes.Structure):
            _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8),
                        ("k", ctypes.c_uint32)]
        insns = (Insn * len(self.code))()
        for i, (code, jt, jf, k) in enumerate(self.code):
            def rel(target):
                if isinstance(target, str):
                    target = self.labels[target] - i - 1
                if not 0 <= target <= 255:
                    raise SystemExit(f"systemd_sandbox: jump of {target} at {i}")
                return target
            insns[i] = Insn(code, rel(jt), rel(jf), k)
        return insns


def build_filter(settings):
    numbers = syscall_numbers()
    p = Program()
    p.ld(OFF_ARCH)
    p.jeq(AUDIT_ARCH_X86_64, jt=1)
    p.ret(RET_KILL_PROCESS)  # SystemCallArchitectures=native
    p.ld(OFF_NR)
    p.jge(X32_SYSCALL_BIT, jf=1)
    p.ret(RET_KILL_PROCESS)

    if settings.get("MemoryDenyWriteExecute", ["no"])[-1] == "yes":
        eperm = RET_ERRNO | errno.EPERM
        p.jeq(numbers["mmap"], jf="mmap_done")
        p.ld(off_arg(2))
        p.jset(PROT_EXEC, jf="mmap_reload")
        p.jset(PROT_WRITE, jf="mmap_reload")
        p.ret(eperm)
        p.label("mmap_reload")
        p.ld(OFF_NR)
        p.label("mmap_done")
        for i, name in enumerate(("mprotect", "pkey_mprotect")):
            p.jeq(numbers[name], jf=f"mprot{i}_done")
            p.ld(off_arg(2))
            p.jset(PROT_EXEC, jf=f"mprot{i}_reload")
            p.ret(eperm)
            p.label(f"mprot{i}_reload")
            p.ld(OFF_NR)
            p.label(f"mprot{i}_done")
        p.jeq(numbers["shmat"], jf="shmat_done")
        p.ld(off_arg(2))
        p.jset(SHM_EXEC, jf="shmat_reload")
        p.ret(eperm)
        p.label("shmat_reload")
        p.ld(OFF_NR)
        p.label("shmat_done")

    families = settings.get("RestrictAddressFamilies")
    if families:
        allowed_families = {FAMILIES[name] for name in families[-1].split()}
        p.jeq(numbers["socket"], jf="socket_done")
        p.ld(off_arg(0))
        for family in sorted(allowed_families):
            p.jeq(family, jt="socket_reload")
        p.ret(RET_ERRNO | errno.EAFNOSUPPORT)
        p.label("socket_reload")
        p.ld(OFF_NR)
        p.label("socket_done")

    filters = settings.get("SystemCallFilter")
    if filters:
        for name in sorted(allowed_syscalls(filters, syscall_groups())):
            if name in numbers:  # a name of another architecture (arm_fadvise64_64, ...)
                p.jeq(numbers[name], jf=1)
                p.ret(RET_ALLOW)
        p.ret(RET_KILL_PROCESS)
    else:
        p.ret(RET_ALLOW)
    return p.assemble()


def install(settings):
    if platform.machine() != "x86_64":
        raise SystemExit("systemd_sandbox: x86-64 only")
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, None, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS")
    insns = build_filter(settings)

    class Fprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
    prog = Fprog(len(insns), ctypes.cast(insns, ctypes.c_void_p))
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_SECCOMP")


def main(argv):
    if len(argv) < 4 or argv[2] != "--":
        raise SystemExit(__doc__)
    settings = load_unit(argv[1]).get("Service", {})
    if settings.get("NoNewPrivileges", ["no"])[-1] != "yes":
        raise SystemExit("systemd_sandbox: the unit does not set NoNewPrivileges=yes")
    if os.geteuid() == 0 and (settings.get("DynamicUser", ["no"])[-1] == "yes" or settings.get("User")):
        os.setgroups([])
        os.setresgid(NOBODY, NOBODY, NOBODY)
        os.setresuid(NOBODY, NOBODY, NOBODY)
    install(settings)
    os.execv(argv[3], argv[3:])


if __name__ == "__main__":
    main(sys.argv)
