# SPDX-License-Identifier: Apache-2.0
# Helpers shared by the tests/cli/*.sh scripts (sourced, not run): a scratch
# directory $work removed on exit, pass/fail counters, and checks that count
# one each. A script ends with `finish [NAME]`, which prints the closing line
# ctest's output is read for ("NAME: N passed, N failed") and sets the exit
# status.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pass=0 fail=0
ok()  { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { # check DESCRIPTION EXPECTED_RC COMMAND...   (stdout in $work/out, stderr in $work/err)
  local d=$1 want=$2 rc=0
  shift 2
  timeout 120 "$@" >"$work/out" 2>"$work/err" || rc=$?
  if [ "$rc" = "$want" ]; then ok; else bad "$d: exit $rc, want $want"; head -c 2000 "$work/err"; fi
}
has() { # has DESCRIPTION FILE PATTERN
  if grep -q -- "$3" "$2"; then ok; else bad "$1: '$3' not in $2"; head -5 "$2"; fi
}
hasnt() { # hasnt DESCRIPTION FILE PATTERN
  if grep -q -- "$3" "$2"; then bad "$1: '$3' in $2"; head -5 "$2"; else ok; fi
}
finish() { # finish [NAME]
  echo "${1:+$1: }$pass passed, $fail failed"
  [ "$fail" = 0 ]
}
