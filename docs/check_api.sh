#!/usr/bin/env bash
# docs/check_api.sh - docs/api.md and cnn.h name the same public things.
#
#   bash docs/check_api.sh        (from anywhere)
#
# cnn.h's public names are
#   - every cnn_name and CNN_NAME in the declarations (the part before "#endif /* CNN_H */"),
#     comments left out: functions, types, enum values, the macros the header defines;
#   - every CNN_NAME a preprocessor condition tests anywhere in the file: the configuration
#     macros (CNN_STATIC, CNN_MALLOC, CNN_L2_BYTES, ...).
# Private names (cnn__, CNN__) and the include guards are not public.
#
# Check 1: every public name appears in docs/api.md (in backquotes or not).
# Check 2: every cnn_/CNN_ name api.md mentions is one of them, so the reference cannot
#          describe a function that was renamed or removed. The few names that are not C
#          identifiers of the header (an environment variable, a string) are listed below.
# The last line is "N passed, N failed"; the exit status is non-zero on any failure.
set -u
cd "$(dirname "$0")/.."

HEADER=cnn.h
API=docs/api.md
# Names api.md may mention that cnn.h does not declare, each with its reason.
NOT_DECLARED=(
    CNN_SIMD            # the environment variable CNN_SIMD=scalar
    CNN_THREADS         # the environment variable CNN_THREADS=4
    CNN_ERR_UNKNOWN     # the string cnn_status_name returns for an out-of-range status
)
GUARDS='^(CNN_H|CNN_IMPLEMENTATION_INCLUDED)$'

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Leaves out /* ... */ comments (also across lines) and // comments; the declarations hold no
# string that contains a comment marker.
strip_comments() {
    awk '{
        line = $0; out = ""
        while (line != "") {
            if (incomment) {
                end = index(line, "*/")
                if (!end) { line = ""; break }
                line = substr(line, end + 2); incomment = 0
            } else {
                start = index(line, "/*"); sl = index(line, "//")
                if (sl && (!start || sl < start)) { out = out substr(line, 1, sl - 1); line = ""; break }
                if (!start) { out = out line; line = ""; break }
                out = out substr(line, 1, start - 1) " "; line = substr(line, start + 2); incomment = 1
            }
        }
        print out
    }'
}

# Names ending in _ are prefixes ("cnn_add_*"), not names.
names() { grep -oE '\b(cnn_[a-z0-9_]+|CNN_[A-Z0-9_]+)\b' | grep -vE '^(cnn__|CNN__)|_$' | grep -vE "$GUARDS" | sort -u; }

{
    sed -n '1,/^#endif \/\* CNN_H \*\//p' "$HEADER" | strip_comments | names
    grep -E '^[[:space:]]*#[[:space:]]*(if|ifdef|ifndef|elif)\b' "$HEADER" | names
} | sort -u > "$tmp/header"
names < "$API" > "$tmp/api"
printf '%s\n' "${NOT_DECLARED[@]}" | sort -u > "$tmp/allowed"

passed=0
failed=0
comm -23 "$tmp/header" "$tmp/api" > "$tmp/undocumented"
if [ -s "$tmp/undocumented" ]; then
    failed=$((failed + 1))
    echo "FAIL every public name of $HEADER appears in $API; missing:"
    sed 's/^/       /' "$tmp/undocumented"
else
    passed=$((passed + 1))
    echo "ok   every public name of $HEADER ($(wc -l < "$tmp/header") of them) appears in $API"
fi
comm -23 "$tmp/api" "$tmp/header" | comm -23 - "$tmp/allowed" > "$tmp/unknown"
if [ -s "$tmp/unknown" ]; then
    failed=$((failed + 1))
    echo "FAIL every cnn_/CNN_ name in $API is declared by $HEADER; not declared:"
    sed 's/^/       /' "$tmp/unknown"
else
    passed=$((passed + 1))
    echo "ok   every cnn_/CNN_ name in $API is declared by $HEADER"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
