#!/usr/bin/env bash
# docs/check_toc.sh - cnn.h's table of contents and its banners agree.
#
#   bash docs/check_toc.sh [file]     (from anywhere; the file defaults to cnn.h)
#
# The CONTENTS block of the header comment lists the sections, "4. Convolution", under
# "Part I" (the lecture) and "Part II" (the fast kernels, "F4. Convolution"). A banner is a
# line "   <number>. <title>" right below a "/* ====" or "/* ----" line; a part's banner is
# "   PART I. ..." below a "/* ****" line.
#
# Check 1: the implementation's banners are the contents, in their order: PART I, every Part I
#          entry, PART II, every Part II entry; each banner's title starts with its entry's.
# Check 2: the declarations' banners (before "#endif /* CNN_H */") are Part I entries, in order,
#          titles starting with the entry's.
# Check 3: every Part II entry Fn serves a Part I section n.
# The last line is "N passed, N failed"; the exit status is non-zero on any failure.
set -u
cd "$(dirname "$0")/.."
FILE=${1:-cnn.h}
passed=0 failed=0
ok()   { passed=$((passed + 1)); echo "ok $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; }

# The contents: "I|II<TAB>number<TAB>title" per entry.
contents=$(awk '
    /^   CONTENTS/ { on = 1; next }
    on && /^   [A-Z]/ { exit }                      # the next heading of the comment
    on && /Part II/ { part = "II"; next }
    on && /Part I/ { part = "I"; next }
    on && part && match($0, /^ +F?[0-9]+[a-z]?\. /) {
        entry = $0; sub(/^ +/, "", entry)
        num = entry; sub(/\. .*/, "", num)
        title = entry; sub(/^[^ ]+ /, "", title)
        print part "\t" num "\t" title
    }' "$FILE")
# The banners: "decl|impl<TAB>number<TAB>title", and "impl<TAB>PART<TAB>I|II".
banners=$(awk '
    /^#endif \/\* CNN_H \*\// { where = "impl" }
    BEGIN { where = "decl" }
    prev ~ /^\/\* (==========|----------)/ && match($0, /^   F?[0-9]+[a-z]?\. /) {
        entry = $0; sub(/^ +/, "", entry)
        num = entry; sub(/\. .*/, "", num)
        title = entry; sub(/^[^ ]+ /, "", title)
        print where "\t" num "\t" title
    }
    prev ~ /^\/\* \*\*\*\*\*\*\*\*\*\*/ && match($0, /^   PART I+\. /) {
        p = $0; sub(/^   PART /, "", p); sub(/\. .*/, "", p)
        print where "\tPART\t" p
    }
    { prev = $0 }' "$FILE")

if [ -z "$contents" ]; then
    fail "no CONTENTS block with Part I and Part II entries in $FILE"
else
    ok "the contents list $(printf '%s\n' "$contents" | wc -l) sections"
fi

# Check 1: the implementation's banners, in order, against the contents.
expected=$(printf '%s\n' "$contents" | awk -F'\t' '
    $1 != last { print "PART\t" $1; last = $1 }
    { print $2 "\t" $3 }')
actual=$(printf '%s\n' "$banners" | awk -F'\t' '$1 == "impl" { print $2 "\t" $3 }')
n_expected=$(printf '%s\n' "$expected" | grep -c .)
n_actual=$(printf '%s\n' "$actual" | grep -c .)
mismatch=$(paste -d '\n' <(printf '%s\n' "$expected") <(printf '%s\n' "$actual") | awk -F'\t' '
    NR % 2 == 1 { num = $1; title = $2; next }
    {
        if ($1 != num || index($2, title) != 1)
            printf "contents \"%s. %s\", banner \"%s. %s\"\n", num, title, $1, $2
    }' | head -n 1)
if [ "$n_expected" -ne "$n_actual" ]; then
    fail "the contents name $n_expected banners (parts included), the implementation has $n_actual"
elif [ -n "$mismatch" ]; then
    fail "implementation banner out of order or misnamed: $mismatch"
else
    ok "the implementation's $n_actual banners follow the contents"
fi

# Check 2: the declarations' banners are Part I entries, in the contents' order.
bad=$(awk -F'\t' '
    NR == FNR { if ($1 == "I") { rank[$2] = FNR; title[$2] = $3 } next }
    $1 != "decl" { next }
    !($2 in rank) { print "\"" $2 ". " $3 "\" is not a Part I entry"; exit }
    index($3, title[$2]) != 1 { print "\"" $2 ". " $3 "\" does not start with \"" title[$2] "\""; exit }
    rank[$2] <= last { print "\"" $2 ". " $3 "\" is out of order"; exit }
    { last = rank[$2] }' <(printf '%s\n' "$contents") <(printf '%s\n' "$banners"))
ndecl=$(printf '%s\n' "$banners" | grep -c '^decl')
if [ "$ndecl" -eq 0 ]; then fail "no banners in the declarations"
elif [ -n "$bad" ]; then fail "declarations: $bad"
else ok "the declarations' $ndecl banners follow Part I of the contents"
fi

# Check 3: each fast-kernel section serves a lecture section.
orphans=$(awk -F'\t' '$1 == "I" { have[$2] = 1 } $1 == "II" { n = $2; sub(/^F/, "", n); if (!(n in have)) print $2 }' \
          <(printf '%s\n' "$contents") | tr '\n' ' ')
if [ -n "$orphans" ]; then fail "Part II entries serving no Part I section: $orphans"
else ok "every Part II entry serves a Part I section"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
