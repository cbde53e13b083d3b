# SPDX-License-Identifier: Apache-2.0
"""The man page and the bash completion are generated and current (issue #16 §2).

`iocbus man` and `iocbus completion bash` are generated from the command
table and the --help texts (and the configuration tables), as
docs/CONFIGURATION.md is from src/config/tables.c. The committed
docs/iocbus.1 and contrib/bash-completion/iocbus must equal their output;
the page must cover every subcommand, exit status, signals and files and
render with groff and man without a warning; and the completion, loaded
into bash with the bash-completion package, must offer every subcommand of
`iocbus --help`, the options of one, choice values and sub-commands.
"""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, report  # noqa: E402

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=60, **kw)


def help_commands():
    out = run([BIN, "--help"]).stdout
    block = out.split("commands:\n", 1)[1].split("\n\n", 1)[0]
    return [l.split()[0] for l in block.splitlines() if l.strip()]


def check_current(failures, args, rel):
    got = run([BIN] + args)
    with open(os.path.join(SRC, rel)) as f:
        want = f.read()
    if got.returncode != 0 or got.stdout != want:
        failures.append("%s is stale: regenerate it with `iocbus %s > %s`" % (rel, " ".join(args), rel))


def complete(line, cwd):
    """COMPREPLY of _iocbus for `line` (the cursor at its end), with bash-completion loaded."""
    script = ('source %s; source %s; COMP_LINE=%s; COMP_POINT=${#COMP_LINE}; '
              'read -ra COMP_WORDS <<< "$COMP_LINE"; [[ $COMP_LINE == *" " ]] && COMP_WORDS+=(""); '
              'COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _iocbus iocbus "${COMP_WORDS[-1]}" "${COMP_WORDS[-2]}"; '
              'printf "%%s\\n" "${COMPREPLY[@]}"'
              % (BASH_COMPLETION, os.path.join(SRC, "contrib/bash-completion/iocbus"), "'%s'" % line))
    r = run(["bash", "--norc", "--noprofile", "-c", script], cwd=cwd)
    if r.returncode != 0:
        raise AssertionError("bash: %s" % r.stderr)
    return set(x for x in r.stdout.splitlines() if x)


def check_man(failures, cmds):
    page = os.path.join(SRC, "docs/iocbus.1")
    g = run(["groff", "-ww", "-z", "-man", page])
    if g.returncode != 0 or g.stderr:
        failures.append("groff -ww warns on docs/iocbus.1:\n" + g.stderr[:2000])
    env = {k: v for k, v in os.environ.items() if k != "MAN_KEEP_FORMATTING"}
    m = run(["man", "--warnings", "-l", page], env=dict(env, MANWIDTH="80"))
    if m.returncode != 0 or m.stderr:
        failures.append("man -l warns on docs/iocbus.1:\n" + m.stderr[:2000])
    text = re.sub(".\b", "", m.stdout)  # overstrike bold, if man kept it
    for sec in ("NAME", "SYNOPSIS", "COMMANDS", "EXIT STATUS", "SIGNALS", "ENVIRONMENT", "FILES", "CONFIGURATION"):
        if not re.search(r"^%s$" % sec, text, re.M):
            failures.append("man page has no %s section" % sec)
    for c in cmds:
        if not re.search(r"^   %s$" % re.escape(c), text, re.M):
            failures.append("man page has no subsection for `iocbus %s`" % c)
        if ("usage: iocbus %s" % c) not in text:
            failures.append("man page lacks the --help text of `iocbus %s`" % c)
    for word in ("SIGHUP", "SIGTERM", "/etc/iocbus/iocbus.yaml", "/var/lib/iocbus", "NOTIFY_SOCKET"):
        if word not in text:
            failures.append("man page does not mention %s" % word)


def check_completion(failures, cmds):
    if not os.path.exists(BASH_COMPLETION):
        print("SKIP completion: %s missing (scripts/deps.sh installs bash-completion)" % BASH_COMPLETION)
        return
    with tempfile.TemporaryDirectory(prefix="iocbus-compl-") as tmp:
        open(os.path.join(tmp, "iocbus.yaml"), "w").close()
        got = complete("iocbus ", tmp)
        if got != set(cmds) | {"--help", "--version"}:
            failures.append("`iocbus <TAB>` offers %s, --help lists %s" % (sorted(got), cmds))
        cases = [("iocbus enrich --pre", {"--preset"}),
                 ("iocbus enrich --preset ", {"ecs", "suricata", "zeek", "auto", "none"}),
                 ("iocbus store ", {"check", "rebuild"}),
                 ("iocbus config d", {"dump", "docs"}),
                 ("iocbus run -c iocb", {"iocbus.yaml"}),
                 ("iocbus run --http", {"--http-port"}),
                 ("iocbus export --format", {"--format"})]
        for line, want in cases:
            got = complete(line, tmp)
            if got != want:
                failures.append("`%s<TAB>` offers %s, want %s" % (line, sorted(got), sorted(want)))


def main():
    failures = []
    cmds = help_commands()
    if "run" not in cmds or "check-config" not in cmds:
        failures.append("cannot read the command list of `iocbus --help`: %r" % cmds)
    check_current(failures, ["man"], "docs/iocbus.1")
    check_current(failures, ["completion", "bash"], "contrib/bash-completion/iocbus")
    check_man(failures, cmds)
    check_completion(failures, cmds)
    report(failures, "generated docs: man page and bash completion current; %d commands covered" % len(cmds))


if __name__ == "__main__":
    main()
