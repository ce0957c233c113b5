# Shared helpers for the cli.* shell tests.
fails=0
check() { # check NAME EXPECTED ACTUAL
    if [ "$2" = "$3" ]; then echo "ok - $1"; else
        echo "not ok - $1"; echo "  expected: $2"; echo "  actual:   $3"; fails=$((fails + 1)); fi
}
finish() { [ "$fails" -eq 0 ] && echo "all passed" && exit 0; echo "$fails failed"; exit 1; }
