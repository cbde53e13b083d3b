# SPDX-License-Identifier: Apache-2.0
"""The .deb builds, installs and runs (issue #16 §2).

CPack's DEB generator runs on this build tree (the configuration
scripts/package.sh uses, cmake/package.cmake); the package is unpacked with
`dpkg -x` into a temporary root, and from there:
- every file is where Debian expects it (binary, man page, unit, conffile,
  bash completion, copyright, docs), /etc/iocbus/iocbus.yaml is listed in
  the control conffiles, and Depends came from dpkg-shlibdeps;
- `iocbus --version` and `iocbus check-config etc/iocbus/iocbus.yaml` run
  from the unpacked binary, and the man page there is docs/iocbus.1;
- the unit passes `systemd-analyze verify` with no message (ExecStart and
  ExecReload pointed at the unpacked binary, MANPATH at its man pages, as
  /usr/bin here holds no iocbus) and `systemd-analyze security --offline`
  rates it at most 2.0.
lintian runs in scripts/package.sh on the release build.
"""
import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile

BUILD = os.environ["IOCB_BUILD_DIR"]
SRC = os.environ["IOCB_SOURCE_DIR"]
MAX_EXPOSURE = 2.0


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=90, **kw)


def build_deb(out, failures):
    r = run(["cpack", "-G", "DEB", "-B", out, "--config", os.path.join(BUILD, "CPackConfig.cmake")], cwd=BUILD)
    debs = [f for f in os.listdir(out) if f.endswith(".deb")]
    if r.returncode != 0 or len(debs) != 1:
        failures.append("cpack failed (%d): %s %s" % (r.returncode, r.stdout[-2000:], r.stderr[-2000:]))
        return None
    return os.path.join(out, debs[0])


def check_control(deb, failures):
    depends = run(["dpkg-deb", "-f", deb, "Depends"]).stdout
    for lib in ("libc6", "libzmq5", "liblmdb0", "libcurl4", "libmicrohttpd12", "librdkafka1"):
        if not re.search(r"\b%s\b" % lib, depends):
            failures.append("Depends lacks %s (dpkg-shlibdeps): %r" % (lib, depends))
    with tempfile.TemporaryDirectory() as ctl:
        run(["dpkg-deb", "-e", deb, ctl])
        conffiles = open(os.path.join(ctl, "conffiles")).read().split() if os.path.exists(
            os.path.join(ctl, "conffiles")) else []
    if conffiles != ["/etc/iocbus/iocbus.yaml"]:
        failures.append("conffiles is %r, want /etc/iocbus/iocbus.yaml" % conffiles)


def check_layout(root, failures):
    for rel in ("usr/bin/iocbus", "usr/share/man/man1/iocbus.1.gz", "lib/systemd/system/iocbus.service",
                "etc/iocbus/iocbus.yaml", "usr/share/bash-completion/completions/iocbus",
                "usr/share/doc/iocbus/copyright", "usr/share/doc/iocbus/changelog.gz",
                "usr/share/doc/iocbus/CONFIGURATION.md", "usr/share/doc/iocbus/DAEMON.md",
                "usr/share/doc/iocbus/README.md"):
        if not os.path.exists(os.path.join(root, rel)):
            failures.append("/%s is not in the package" % rel)
    with gzip.open(os.path.join(root, "usr/share/man/man1/iocbus.1.gz"), "rt") as f:
        if f.read() != open(os.path.join(SRC, "docs/iocbus.1")).read():
            failures.append("the packaged man page is not docs/iocbus.1")


def check_runs(root, failures):
    binary = os.path.join(root, "usr/bin/iocbus")
    v = run([binary, "--version"])
    if v.returncode != 0 or not re.match(r"iocbus \d+\.\d+\.\d+\n$", v.stdout):
        failures.append("unpacked iocbus --version: %d %r %r" % (v.returncode, v.stdout, v.stderr))
    c = run([binary, "check-config", os.path.join(root, "etc/iocbus/iocbus.yaml")], cwd=root)
    if c.returncode != 0 or "OK" not in c.stdout or "/var/lib/iocbus" not in c.stdout:
        failures.append("check-config of the packaged configuration: %d %r %r" % (c.returncode, c.stdout, c.stderr))


def check_unit(root, tmp, failures):
    if not shutil.which("systemd-analyze"):
        print("SKIP unit checks: systemd-analyze is not installed")
        return
    unit = os.path.join(tmp, "iocbus.service")
    with open(os.path.join(root, "lib/systemd/system/iocbus.service")) as f:
        text = f.read()
    with open(unit, "w") as f:
        f.write(text.replace("/usr/bin/iocbus", os.path.join(root, "usr/bin/iocbus")))
    v = run(["systemd-analyze", "verify", unit], env=dict(os.environ, MANPATH=os.path.join(root, "usr/share/man")))
    if v.returncode != 0 or v.stderr.strip() or v.stdout.strip():
        failures.append("systemd-analyze verify: %d %s %s" % (v.returncode, v.stdout, v.stderr))
    s = run(["systemd-analyze", "security", "--offline=yes", "--no-pager", unit])
    m = re.search(r"Overall exposure level for iocbus.service: ([0-9.]+)", s.stdout)
    if not m or float(m.group(1)) > MAX_EXPOSURE:
        failures.append("systemd-analyze security: %s" % (m.group(0) if m else s.stdout[-500:] + s.stderr[-500:]))
    else:
        print("systemd-analyze security --offline: exposure %s" % m.group(1))


def main():
    failures = []
    with tempfile.TemporaryDirectory(prefix="iocbus-deb-") as tmp:
        deb = build_deb(os.path.join(tmp, "out"), failures)
        if deb:
            root = os.path.join(tmp, "root")
            x = run(["dpkg", "-x", deb, root])
            if x.returncode != 0:
                failures.append("dpkg -x: %s" % x.stderr)
            else:
                check_control(deb, failures)
                check_layout(root, failures)
                check_runs(root, failures)
                check_unit(root, tmp, failures)
    if failures:
        print("\n".join(failures))
        sys.exit(1)
    print("deb: builds, unpacks, runs; unit verified")


if __name__ == "__main__":
    main()
