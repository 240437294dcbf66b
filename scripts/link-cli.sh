#!/usr/bin/env bash
# Links the `workflow` and `autokestra` commands to THIS checkout (`bun link`), so a new shell finds them. A command
# of that name already on PATH that runs another checkout's CLI (a second clone, an old worktree) is re-linked here
# when setup may replace it, and named otherwise: silently keeping it would run someone else's code.
# LINK_DIRS (default: /usr/local/bin ~/.local/bin) is where a missing command is linked.
set -euo pipefail
cd "$(dirname "$0")/.."
here="$(pwd -P)/cli/main.ts"
bun link >/dev/null
BUN_BIN="$(bun pm bin -g 2>/dev/null || echo "$HOME/.bun/bin")"
for cmd in workflow autokestra; do
  found="$(command -v "$cmd" 2>/dev/null || true)"
  if [ -n "$found" ]; then
    target="$(readlink -f "$found" 2>/dev/null || echo "$found")"
    [ "$target" = "$here" ] && continue
    if { [ -L "$found" ] || [ ! -e "$found" ]; } && [ -w "$(dirname "$found")" ]; then
      ln -sfn "$here" "$found"
      echo "setup: \`$cmd\` on PATH ($found) ran $target, another checkout's CLI; re-linked it to this checkout ($here)"
    else
      echo "setup: warning: \`$cmd\` on PATH ($found) runs $target, not this checkout ($here), and setup may not replace it: remove it, or put $BUN_BIN first on PATH" >&2
    fi
    continue
  fi
  for dir in ${LINK_DIRS:-/usr/local/bin $HOME/.local/bin}; do
    if { [ -d "$dir" ] || mkdir -p "$dir" 2>/dev/null; } && [ -w "$dir" ]; then
      ln -sfn "$BUN_BIN/$cmd" "$dir/$cmd"
      case ":$PATH:" in *":$dir:"*) ;; *) echo "setup: linked $dir/$cmd; add $dir to PATH to run it" ;; esac
      break
    fi
  done
done
