#!/usr/bin/env bash
# Prints, after the last ctest run in BUILD_DIR, the names of the tests that did not pass and
# then each one's whole output (from Testing/Temporary/LastTest.log, so every run of a test
# repeated with --repeat counts): what the reader of a long parallel log needs at its end,
# where `--output-on-failure` left it somewhere in the middle. Prints nothing when every test
# passed; exits 0 either way (the caller already knows ctest failed).
#
# Usage: scripts/ctest-failures.sh BUILD_DIR
set -euo pipefail
log=${1:?usage: ctest-failures.sh BUILD_DIR}/Testing/Temporary/LastTest.log
[ -f "$log" ] || { echo "ctest-failures: no $log (ctest did not get to run a test)"; exit 0; }
# A test's block starts at its "N/M Testing: NAME" line; a run that passed says "Test Passed.".
awk '
  function flush() {
    if (name != "" && !passed) { names[++failed] = name; output = output block }
  }
  /^[0-9]+\/[0-9]+ Testing: / {
    flush(); block = ""; passed = 0; name = substr($0, index($0, ": ") + 2)
  }
  /^Test Passed\.$/ { passed = 1 }
  name != "" { block = block $0 "\n" }
  END {
    flush()
    if (failed == 0) exit
    print "==== tests that did not pass:"
    for (i = 1; i <= failed; ++i) print "  " names[i]
    print "==== their output:"
    printf "%s", output
  }
' "$log"
