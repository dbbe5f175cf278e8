#!/usr/bin/env bash
# test_docs.sh: the docs keep their promises to a reader. README.md is at most 16 KB; every
# relative link in README.md and docs/*.md names a file that exists and, with #anchor, a heading
# in it; every option of `ddp_train --help` and of `kernels --help` is in docs/usage.md or
# docs/kernels.md; every key of ddp_train's JSON summary is in docs/usage.md's key table.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

size=$(wc -c <"$SRC/README.md")
((size <= 16384)) && ok || bad "README.md is $size bytes (at most 16384)"

/usr/bin/python3 - "$SRC" >"$T/links" 2>&1 <<'PY'
import glob, os, re, sys
src = sys.argv[1]
def anchors(path):
    out = set()
    for h in re.findall(r"^#+\s+(.*)$", open(path).read(), re.M):
        out.add(re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-"))
    return out
for f in [os.path.join(src, "README.md")] + sorted(glob.glob(os.path.join(src, "docs", "*.md"))):
    text = re.sub(r"```.*?```", "", open(f).read(), flags=re.S)
    for link in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", link):
            continue
        path, _, anchor = link.partition("#")
        target = os.path.normpath(os.path.join(os.path.dirname(f), path)) if path else f
        if not os.path.exists(target):
            print(f"{os.path.relpath(f, src)}: {link}: no such file")
        elif anchor and target.endswith(".md") and anchor not in anchors(target):
            print(f"{os.path.relpath(f, src)}: {link}: no such heading")
PY
[[ $? == 0 && ! -s $T/links ]] && ok || bad "broken links:"$'\n'"$(cat "$T/links")"

# every option the programs show is documented
for prog in "ddp_train:docs/usage.md" "kernels:docs/kernels.md"; do
    bin=${prog%%:*} doc=$SRC/${prog#*:}
    "$BIN/$bin" --help >"$T/help" 2>&1 || bad "$bin --help failed"
    for opt in $(grep -oE '^ +--[a-z0-9-]+' "$T/help" | tr -d ' ' | sort -u); do
        grep -qE -- "${opt}([^a-z0-9-]|$)" "$doc" && ok || bad "$bin $opt is not in ${prog#*:}"
    done
done

# every JSON key of a run is documented
timeout -k 5 60 "$BIN/ddp_train" --mode serial --model "$SRC/models/tiny.cfg" --data synthetic \
    --synthetic-train 256 --synthetic-test 64 --max-steps 2 --quiet --json "$T/run.json" >/dev/null 2>&1 ||
    bad "a short run for its JSON failed"
keys=$(/usr/bin/python3 -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1]))))' "$T/run.json")
[[ -n $keys ]] && ok || bad "no JSON keys"
for k in $keys; do
    grep -qF -- "| \`$k\`" "$SRC/docs/usage.md" && ok || bad "JSON key $k is not in docs/usage.md's table"
done
finish
