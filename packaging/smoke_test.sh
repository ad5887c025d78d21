#!/usr/bin/env bash
# Smoke test of a frozen build: packaging/smoke_test.sh DIST   (DIST = dist/tagloop)
#
# Runs the frozen executable the way a user's machine sees it: an empty environment
# (env -i, PATH=/usr/bin:/bin, no Python or .venv on it), a fresh HOME and config folder, and
# a working folder outside the source tree. Every step must succeed; anything on stderr that
# smells of a missing module, data file or Qt plugin fails the test too.
# No network: every run has TAGLOOP_DENY_NETWORK=1 (an audit hook that ends the process on any
# Python socket use), runs in a new network namespace (unshare -rn) where that is allowed, and
# where strace exists the training and GUI runs are traced: any socket other than AF_UNIX, or
# an exec of a Python that is not the frozen one, fails the test.
# Environment: TAGLOOP_SMOKE_DATA (default: ../shared/data/sms_spam.tsv beside the repository),
# TAGLOOP_SMOKE_OUT (where to keep the screenshot; default: the temporary folder, kept on failure).
set -euo pipefail

if [[ $# -ne 1 || ! -x "$1/tagloop" ]]; then
    echo "usage: $0 DIST   (a folder holding the frozen executable 'tagloop')" >&2
    exit 2
fi
DIST=$(cd "$1" && pwd)
BIN="$DIST/tagloop"
REPO=$(cd "$(dirname "$0")/.." && pwd)
DATA=${TAGLOOP_SMOKE_DATA:-"$REPO/../shared/data/sms_spam.tsv"}
[[ -f "$DATA" ]] || { echo "smoke test: no data file $DATA" >&2; exit 2; }
DATA=$(cd "$(dirname "$DATA")" && pwd)/$(basename "$DATA")

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tagloop-smoke.XXXXXX")
mkdir -p "$WORK/home" "$WORK/config" "$WORK/run"
STEP="setup"
finish() {
    local code=$?
    if [[ $code -ne 0 ]]; then
        echo "SMOKE TEST FAILED at step: $STEP (exit $code); logs kept in $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap finish EXIT

NET=()
if command -v unshare >/dev/null && unshare -rn /bin/true 2>/dev/null; then
    NET=(unshare -rn)  # a user + network namespace: no interface but a loopback that is down
fi
TRACE=()
if command -v strace >/dev/null && strace -f -o /dev/null /bin/true 2>/dev/null; then
    TRACE=(strace -f -qq -e trace=execve,socket,connect -o)
fi
echo "smoke test of $BIN in $WORK (network namespace: ${NET[*]:-unavailable}," \
    "strace: $([[ ${#TRACE[@]} -gt 0 ]] && echo yes || echo no))"

# Run the frozen binary in an empty environment; stdout and stderr go to $WORK/NAME.{out,err}.
tl() {
    local name=$1
    shift
    (cd "$WORK/run" && env -i PATH=/usr/bin:/bin HOME="$WORK/home" \
        XDG_CONFIG_HOME="$WORK/config" LANG=C.UTF-8 QT_QPA_PLATFORM=offscreen \
        TAGLOOP_DENY_NETWORK=1 "${NET[@]}" "$BIN" "$@") >"$WORK/$name.out" 2>"$WORK/$name.err" || {
        echo "--- $name: tagloop $* failed; stderr:" >&2
        cat "$WORK/$name.err" >&2
        return 1
    }
    if grep -Ei "Traceback|No module named|ModuleNotFoundError|FileNotFoundError|qt.qpa.plugin|Could not (find|load) the Qt|QFactoryLoader|network use refused" \
        "$WORK/$name.err" >&2; then
        echo "--- $name: tagloop $* wrote the above on stderr" >&2
        return 1
    fi
}

# Like tl, under strace: no socket but AF_UNIX, no exec but the frozen binary (and its children).
traced() {
    local name=$1
    shift
    if [[ ${#TRACE[@]} -eq 0 ]]; then
        tl "$name" "$@"
        return
    fi
    (cd "$WORK/run" && env -i PATH=/usr/bin:/bin HOME="$WORK/home" \
        XDG_CONFIG_HOME="$WORK/config" LANG=C.UTF-8 QT_QPA_PLATFORM=offscreen \
        TAGLOOP_DENY_NETWORK=1 "${TRACE[@]}" "$WORK/$name.trace" "${NET[@]}" "$BIN" "$@") \
        >"$WORK/$name.out" 2>"$WORK/$name.err" || {
        echo "--- $name: tagloop $* failed; stderr:" >&2
        cat "$WORK/$name.err" >&2
        return 1
    }
    if grep -E 'socket\((AF_INET|AF_INET6|AF_PACKET|AF_NETLINK)|connect\([0-9]+, \{sa_family=AF_INET' \
        "$WORK/$name.trace" >&2; then
        echo "--- $name: a network socket was opened (above)" >&2
        return 1
    fi
    if grep -E 'execve\("[^"]*python' "$WORK/$name.trace" >&2; then
        echo "--- $name: a Python outside the build was run (above)" >&2
        return 1
    fi
}

expect() {  # expect NAME PATTERN: the step's stdout must match
    grep -Eq "$2" "$WORK/$1.out" || {
        echo "--- $1: expected /$2/ in its output, got:" >&2
        cat "$WORK/$1.out" >&2
        return 1
    }
}

STEP="--version"
tl version --version
expect version "^tagloop [0-9]+\.[0-9]+"
cat "$WORK/version.out"

STEP="--self-check (every module, spaCy language, plugin and data file of the build)"
tl selfcheck --self-check
cat "$WORK/selfcheck.out"

STEP="demo"
tl demo demo "$WORK/demo"
for p in spam diseases mention-types; do
    [[ -s "$WORK/demo/$p.tagloop" ]] || { echo "demo made no $p.tagloop" >&2; exit 1; }
done

STEP="init + import of $(basename "$DATA")"
tl init init "$WORK/sms.tagloop" --type classification --labels ham,spam
tl import import "$WORK/sms.tagloop" "$DATA" --map SMS=text --label-column Label
tl stats stats "$WORK/sms.tagloop" --json
expect stats '"total": *[1-9][0-9]{3}'

STEP="train (classification, demo spam)"
traced train-spam train "$WORK/demo/spam.tagloop" --json
expect train-spam '"macro_f1"'

STEP="train (spans, demo diseases: spaCy inside the build)"
traced train-spans train "$WORK/demo/diseases.tagloop" --no-score --json
expect train-spans '"macro_f1"'

STEP="predict"
printf 'WINNER!! Claim your free prize now: call 09061701461\nSee you at lunch?\n' \
    >"$WORK/new.txt"
tl predict predict "$WORK/demo/spam.tagloop" "$WORK/new.txt" --output "$WORK/pred.jsonl"
[[ $(wc -l <"$WORK/pred.jsonl") -eq 2 ]] || { echo "predict wrote no 2 lines" >&2; exit 1; }
grep -q '"spam"' "$WORK/pred.jsonl" || { echo "predict found no spam" >&2; exit 1; }

STEP="bundle export + bundle open"
tl export bundle export "$WORK/demo/spam.tagloop" "$WORK/spam.tlbundle"
tl open bundle open "$WORK/spam.tlbundle" "$WORK/opened.tagloop"
tl opened-stats stats "$WORK/opened.tagloop" --json
expect opened-stats '"total": *[1-9]'

STEP="GUI offscreen on a demo project, to a screenshot, then quit"
traced gui gui --screenshot "$WORK/gui.png" "$WORK/demo/spam.tagloop"
[[ $(stat -c %s "$WORK/gui.png") -gt 20000 ]] || { echo "the screenshot is (nearly) empty" >&2; exit 1; }
if [[ -n "${TAGLOOP_SMOKE_OUT:-}" ]]; then
    mkdir -p "$TAGLOOP_SMOKE_OUT" && cp "$WORK/gui.png" "$TAGLOOP_SMOKE_OUT/smoke_gui.png"
fi

STEP="done"
echo "smoke test passed: $(cat "$WORK/version.out"), every step in an empty environment" \
    "with the network denied"
