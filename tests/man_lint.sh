#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# man_lint.sh MANDIR HEADER
#
# Lints the mmapkit manual pages:
#  - renders every page under MANDIR/man*/ with `groff -man -ww -z` (run from
#    MANDIR with -I MANDIR, and through soelim, so `.so man3/x.3` links resolve
#    as man(1) resolves them; a page whose first line is a preprocessor hint
#    such as '\" t is run through the preprocessors it names, as man(1) does)
#    and fails if groff prints anything at all: every warning is an error;
#  - fails if a function declared with MMAPKIT_API in HEADER has no
#    MANDIR/man3/<function>.3.
#
# Prints one line per failure, then `man pages: N passed, M failed`, where M
# counts pages with output and missing function pages.  Exits 0 when nothing
# failed, 1 when something did, 2 on a usage or setup error.

set -u
export LC_ALL=C

usage() {
	echo "usage: $0 MANDIR HEADER" >&2
	exit 2
}

[ $# -eq 2 ] || usage
mandir=$1
header=$2
[ -d "$mandir" ] || { echo "man_lint: $mandir: not a directory" >&2; exit 2; }
[ -r "$header" ] || { echo "man_lint: $header: cannot read" >&2; exit 2; }
command -v groff >/dev/null 2>&1 ||
	{ echo "man_lint: groff not found (apt-get install groff-base)" >&2; exit 2; }
mandir=$(cd "$mandir" && pwd) || exit 2

passed=0
failed=0

# Preprocessor options for a page, from a first line such as '\" te.
preprocessors() {
	local first opts=""
	IFS= read -r first <"$1" || true
	case $first in
	"'\\\" "*) ;;
	*) return 0 ;;
	esac
	first=${first#"'\\\" "}
	first=${first%% *}
	case $first in *t*) opts+=" -t" ;; esac
	case $first in *e*) opts+=" -e" ;; esac
	case $first in *p*) opts+=" -p" ;; esac
	case $first in *r*) opts+=" -R" ;; esac
	case $first in *g*) opts+=" -g" ;; esac
	printf '%s' "$opts"
}

shopt -s nullglob
pages=("$mandir"/man[1-9]*/*.[1-9]*)
if [ ${#pages[@]} -eq 0 ]; then
	echo "FAIL: no manual pages under $mandir/man*/"
	failed=$((failed + 1))
fi

for page in "${pages[@]}"; do
	[ -f "$page" ] || continue
	rel=${page#"$mandir"/}
	src=$page
	msgs=""

	# A link page: `.so manN/target.N` relative to MANDIR.  The target must
	# exist; its first line decides the preprocessors.
	first=""
	IFS= read -r first <"$page" || true
	if [[ $first =~ ^\.so[[:space:]]+([^[:space:]]+) ]]; then
		target=${BASH_REMATCH[1]}
		if [ -f "$mandir/$target" ]; then
			src=$mandir/$target
		else
			msgs=".so target $target does not exist"
		fi
	fi

	if [ -z "$msgs" ]; then
		# shellcheck disable=SC2046 # word splitting of the options is wanted
		msgs=$(cd "$mandir" &&
			groff -s $(preprocessors "$src") -man -ww -z -I "$mandir" "$rel" 2>&1)
		# The plain command as well: the page must be clean without
		# preprocessors too (a viewer may not run them).
		if [ -z "$msgs" ]; then
			msgs=$(cd "$mandir" && groff -man -ww -z -I "$mandir" "$rel" 2>&1)
		fi
	fi

	if [ -n "$msgs" ]; then
		echo "FAIL $rel:"
		printf '%s\n' "$msgs" | sed 's/^/    /'
		failed=$((failed + 1))
	else
		passed=$((passed + 1))
	fi
done

# Functions the header declares: join continuation lines, strip comments
# (outside string and character literals), drop preprocessor lines, split
# into declarations at ';', and take the name before the first '(' of each
# MMAPKIT_API declaration.
strip_comments() {
	awk '
	{
		out = ""; n = length($0); i = 1
		while (i <= n) {
			c = substr($0, i, 1); d = substr($0, i, 2)
			if (inblock) {
				if (d == "*/") { inblock = 0; out = out " "; i += 2 } else i++
				continue
			}
			if (quote != "") {
				out = out c
				if (c == "\\") { out = out substr($0, i + 1, 1); i += 2; continue }
				if (c == quote) quote = ""
				i++
				continue
			}
			if (d == "/*") { inblock = 1; i += 2; continue }
			if (d == "//") break
			if (c == "\"" || c == "\047") quote = c
			out = out c
			i++
		}
		quote = ""
		print out
	}'
}

funcs=$(sed -e ':a' -e '/\\$/N; s/\\\n/ /; ta' "$header" |
	strip_comments |
	grep -v '^[[:space:]]*#' |
	tr '\n' ' ' |
	tr ';' '\n' |
	sed -nE 's/.*\bMMAPKIT_API\b[^(]*\b(mmapkit_[a-z0-9_]+)[[:space:]]*\(.*/\1/p' |
	sort -u)

if [ -z "$funcs" ]; then
	echo "FAIL: found no MMAPKIT_API function declarations in $header"
	failed=$((failed + 1))
fi

for fn in $funcs; do
	if [ ! -f "$mandir/man3/$fn.3" ]; then
		echo "FAIL man3/$fn.3: missing (declared in $header)"
		failed=$((failed + 1))
	fi
done

echo "man pages: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
