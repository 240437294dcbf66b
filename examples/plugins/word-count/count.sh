#!/bin/sh
# Reads the invocation (one JSON document) on stdin, logs, and writes its result file.
bytes=$(wc -c)
bytes=$((bytes + 0))   # shell arithmetic trims wc's padding without starting another program
echo "received ${bytes} bytes"
echo "::warn::this line is a WARN log"
printf '{"ok":true,"output":{"bytes":%s}}' "$bytes" > "$AUTOKESTRA_RESULT_FILE"
