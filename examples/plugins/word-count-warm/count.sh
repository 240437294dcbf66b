#!/bin/sh
# Protocol 2: one invocation per line on stdin (a JSON frame), one result frame per line on the result channel
# (descriptor $AUTOKESTRA_RESULT_FD, which only this process writes; stdout and stderr stay log lines).
# Plain sh, no program started: the frame's fields are cut out with parameter expansion.
served=0
while IFS= read -r frame; do
  id=${frame#*\"id\":\"}; id=${id%%\"*}               # "id" follows "type" in every frame
  dir=${frame##*\"tmpDir\":\"}; dir=${dir%%\"*}       # "tmpDir" is the last field: this invocation's own temp dir
  cd "$dir" || exit 1
  served=$((served + 1))
  echo "received ${#frame} characters (invocation ${served} of this process)"
  echo "::warn::this line is a WARN log"
  # The end markers say "my output for this invocation ends here" on each stream; then the result.
  echo "::autokestra-end::${id}"
  echo "::autokestra-end::${id}" >&2
  printf '{"type":"result","id":"%s","marked":true,"ok":true,"output":{"chars":%s,"served":%s}}\n' \
    "$id" "${#frame}" "$served" >&"$AUTOKESTRA_RESULT_FD"
done
