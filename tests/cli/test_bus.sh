#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `iocbus bus keygen` from the command line (issue #13 §1, CURVE): usage and
# exit codes, the file's mode and layout (pyzmq's zmq.auth reads it and its
# public key is the one printed), an existing file left alone without
# --force and replaced with it, and a directory that does not exist;
# `check-config` reads the bus.curve files and refuses what `run` would.
#   test_bus.sh IOCBUS_BINARY
set -u
bin=$1
. "$(dirname "$0")/lib.sh"
exec </dev/null

check "bus --help" 0 "$bin" bus --help
has "bus usage" "$work/out" "iocbus bus keygen \[--force\] FILE"
check "bus without a command" 2 "$bin" bus
check "bus with an unknown command" 2 "$bin" bus rotate "$work/k"
check "keygen without a file" 2 "$bin" bus keygen
check "keygen with an unknown option" 2 "$bin" bus keygen --nope "$work/k"
check "main usage names bus" 0 "$bin" --help
has "main usage" "$work/out" "bus keygen"

check "keygen" 0 "$bin" bus keygen "$work/k"
pub=$(cat "$work/out")
[ "${#pub}" = 40 ] && ok || bad "printed public key '$pub' is not 40 characters"
[ "$(stat -c %a "$work/k")" = 600 ] && ok || bad "mode $(stat -c %a "$work/k"), want 600"
loaded=$(/usr/bin/python3 -c 'import sys, zmq.auth; print(zmq.auth.load_certificate(sys.argv[1])[0].decode())' "$work/k" 2>&1)
[ "$loaded" = "$pub" ] && ok || bad "zmq.auth reads '$loaded', keygen printed '$pub'"
cp "$work/k" "$work/k.before"

check "keygen over an existing file" 2 "$bin" bus keygen "$work/k"
has "existing file named" "$work/err" "exists; --force replaces it"
cmp -s "$work/k" "$work/k.before" && ok || bad "the existing file was changed without --force"
check "keygen --force" 0 "$bin" bus keygen --force "$work/k"
cmp -s "$work/k" "$work/k.before" && bad "--force left the old key" || ok
[ "$(stat -c %a "$work/k")" = 600 ] && ok || bad "mode after --force $(stat -c %a "$work/k"), want 600"
[ "$(ls "$work" | grep -c tmp-)" = 0 ] && ok || bad "temporary files left: $(ls "$work")"
check "keygen into a missing directory" 2 "$bin" bus keygen "$work/none/k"
has "missing directory named" "$work/err" "$work/none/k"

# check-config reads the key files as `iocbus run` does
"$bin" bus keygen "$work/client" >"$work/clients" 2>/dev/null
printf 'bus:\n  curve: {secret_key_file: %s, clients_file: %s}\n' "$work/k" "$work/clients" >"$work/c.yaml"
check "check-config with good key files" 0 "$bin" check-config "$work/c.yaml"
chmod 644 "$work/k"
check "check-config with a key file others can read" 2 "$bin" check-config "$work/c.yaml"
has "the fix named" "$work/err" "chmod 600"
chmod 600 "$work/k"
echo "not-a-key" >>"$work/clients"
check "check-config with a bad client key" 2 "$bin" check-config "$work/c.yaml"
has "file:line named" "$work/err" "$work/clients:2: not a client public key"

finish test_bus
