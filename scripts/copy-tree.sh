#!/usr/bin/env bash
# scripts/copy-tree.sh SRC DEST: copies keyward's tree at SRC into DEST (made if absent):
# the files git tracks plus new unignored ones when SRC is a git checkout's top, otherwise
# everything but build dirs (build*/) and .git (SRC may itself be a scratch copy).
set -euo pipefail
src=$(cd "${1:?usage: copy-tree.sh SRC DEST}" && pwd)
dest=${2:?usage: copy-tree.sh SRC DEST}
mkdir -p "$dest"
top=$(git -C "$src" rev-parse --show-toplevel 2>/dev/null || true)
if [ "$top" = "$src" ]; then
    (cd "$src" && git ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
        tar -cf - --null -T -) | tar -xf - -C "$dest"
else
    (cd "$src" && tar -cf - --exclude='./build*' --exclude=./.git .) | tar -xf - -C "$dest"
fi
