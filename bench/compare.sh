#!/usr/bin/env bash
# compare.sh OLD_COMMIT [ROUNDS]: the throughput benchmarks of BENCHMARKS.md
# ("within 10% of the tree before", issues 12, 15 and 16), the tree at
# OLD_COMMIT beside this working tree ("new", uncommitted changes
# included), in the same run, alternated, ROUNDS rounds (default 4).
#
# It builds, for each tree, the server and store test binaries and the
# healthcode binary (OLD_COMMIT from a temporary git worktree), then runs,
# each round, both trees in turn (old first in odd rounds, new first in
# even ones, so that a drift in the machine's load falls on both):
#
#   IngestFacts/sqlite             facts/s, CPU µs per fact (the whole
#                                  process, the benchmark's own getrusage),
#                                  committer µs per fact
#   AppendEvents/batch=N/sqlite    appends/s for N = 1, 16, 256, each a fixed
#                                  number of commits, and the process's CPU
#                                  time (getrusage, by /usr/bin/time; setup
#                                  included) per 1,000 appends
#   healthcode bench tokens        the token route's and /healthz's req/s
#
# and prints each metric's median per tree with the rounds' values, and
# the median of the rounds' new : old ratios. Raw results stay in
# $OUT/results.tsv (OUT defaults to a new temporary directory).
#
# Environment: INGEST_BENCHTIME (default 40x: 40 batches of 1,000 facts;
# a few batches measure mostly the start, and the cost of a fact grows
# with the log), APPEND_COMMITS (default
# "1:3000 16:1500 256:300", batch:commits), TOKEN_DURATION (default 4s),
# OUT, GOGC (default 100 for both trees: serve and healthcode bench set
# 400 unless GOGC is set, and the tree before did not, so the comparison
# is of the code, at one collector setting). Run it on a quiet machine:
# nothing else should be running. Needs go, git and /usr/bin/time.
set -euo pipefail

usage() { echo "usage: bench/compare.sh OLD_COMMIT [ROUNDS]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
old_commit=$1
rounds=${2:-4}
case $rounds in '' | *[!0-9]* | 0) usage ;; esac
ingest_benchtime=${INGEST_BENCHTIME:-40x}
append_commits=${APPEND_COMMITS:-1:3000 16:1500 256:300}
token_duration=${TOKEN_DURATION:-4s}
export GOGC=${GOGC:-100}

new_tree=$(cd "$(dirname "$0")/.." && pwd)
git -C "$new_tree" rev-parse --verify --quiet "$old_commit^{commit}" >/dev/null ||
	{ echo "compare.sh: error: no commit $old_commit" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "compare.sh: error: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }
out=${OUT:-$(mktemp -d /tmp/compare.XXXXXX)}
mkdir -p "$out/bin"
old_tree=$out/old-tree
cleanup() { git -C "$new_tree" worktree remove --force "$old_tree" 2>/dev/null || true; }
trap cleanup EXIT
git -C "$new_tree" worktree add --quiet --detach "$old_tree" "$old_commit"

build() { # build TREE NAME
	echo "compare.sh: building $2 ($1)" >&2
	(cd "$1" && go test -c -o "$out/bin/server-$2.test" ./server &&
		go test -c -o "$out/bin/store-$2.test" ./store &&
		go build -o "$out/bin/healthcode-$2" ./cmd/healthcode)
}
build "$old_tree" old
build "$new_tree" new
tree_of() { if [ "$1" = old ]; then echo "$old_tree"; else echo "$new_tree"; fi; }

results=$out/results.tsv
: >"$results"
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$results"; } # round tree metric value

# benchmetrics ROUND TREE PREFIX FILE: every "value unit" pair of the
# benchmark lines in FILE, as metric "PREFIX unit".
benchmetrics() {
	awk -v round="$1" -v tree="$2" -v prefix="$3" '$1 ~ /^Benchmark/ {
		for (i = 3; i < NF; i += 2) if ($(i+1) != "ns/op") printf "%s\t%s\t%s %s\t%s\n", round, tree, prefix, $(i+1), $i
	}' "$4" >>"$results"
}

# cpu FILE: user + system seconds from /usr/bin/time -f 'rusage %U %S'.
cpu() { awk '$1 == "rusage" { print $2 + $3 }' "$1"; }

run() { # run ROUND TREE
	local round=$1 v=$2 dir log
	dir=$(tree_of "$v")
	log=$out/round$round-$v
	echo "compare.sh: round $round, $v, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
	(cd "$dir/server" && "$out/bin/server-$v.test" -test.run '^$' -test.bench '^BenchmarkIngestFacts$/^sqlite$' \
		-test.benchtime "$ingest_benchtime") >"$log-ingest.txt" 2>&1 || { cat "$log-ingest.txt" >&2; exit 1; }
	benchmetrics "$round" "$v" "IngestFacts" "$log-ingest.txt"
	local spec batch commits
	for spec in $append_commits; do
		batch=${spec%%:*} commits=${spec#*:}
		(cd "$dir/store" && /usr/bin/time -f 'rusage %U %S' -o "$log-append$batch.time" "$out/bin/store-$v.test" \
			-test.run '^$' -test.bench "^BenchmarkAppendEvents\$/^batch=$batch\$/^sqlite\$" -test.benchtime "${commits}x") \
			>"$log-append$batch.txt" 2>&1 || { cat "$log-append$batch.txt" >&2; exit 1; }
		benchmetrics "$round" "$v" "AppendEvents batch=$batch" "$log-append$batch.txt"
		record "$round" "$v" "AppendEvents batch=$batch CPU ms/1000 appends" \
			"$(awk -v s="$(cpu "$log-append$batch.time")" -v n=$((batch * commits)) 'BEGIN { printf "%.1f", s * 1e6 / n }')"
	done
	(cd "$out" && "$out/bin/healthcode-$v" bench tokens --duration "$token_duration" --rounds 1) >"$log-tokens.txt" 2>&1 ||
		{ cat "$log-tokens.txt" >&2; exit 1; }
	awk -v round="$round" -v tree="$v" '$1 == "round" {
		for (i = 1; i <= NF; i++) if ($i == "req/s,") { printf "%s\t%s\ttokens %s req/s\t%s\n", round, tree, $3 " " $4, $(i-1) }
	}' "$log-tokens.txt" >>"$results"
}

{
	echo "machine: $(uname -n), $(nproc) CPUs, $(uname -m), $(go version | cut -d' ' -f3)"
	echo "old: $(git -C "$new_tree" log -1 --format='%h %s' "$old_commit" | cut -c1-80)"
	echo "new: $(git -C "$new_tree" log -1 --format='%h %s' HEAD | cut -c1-80)$(git -C "$new_tree" diff --quiet HEAD -- . || echo ' (and uncommitted changes)')"
	echo "rounds: $rounds; ingest -test.benchtime $ingest_benchtime; append commits $append_commits; tokens --duration $token_duration --rounds 1; GOGC=$GOGC"
	echo "start: $(date -u +%H:%M:%S) UTC, load average $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$out/header.txt"
for round in $(seq 1 "$rounds"); do
	if [ $((round % 2)) -eq 1 ]; then order="old new"; else order="new old"; fi
	for v in $order; do run "$round" "$v"; done
done
echo "end: $(date -u +%H:%M:%S) UTC, load average $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/header.txt"
echo

# The table: per metric, each tree's median and rounds, and the median of
# the rounds' new : old ratios.
awk -F'\t' '
function median(list,   n, a, i, j, t) {
	n = split(list, a, " ")
	for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > t + 0; j--) a[j+1] = a[j]; a[j+1] = t }
	return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
}
function fmt(x) { return x >= 100 ? sprintf("%.0f", x) : sprintf("%.3g", x) }
{
	if (!($3 in seen)) { seen[$3] = 1; order[++n] = $3 }
	v[$3, $2, $1] = $4; vals[$3, $2] = vals[$3, $2] " " $4
	if ($1 > rounds) rounds = $1
}
END {
	printf "| metric | old median (rounds) | new median (rounds) | new : old (rounds) |\n| --- | ---: | ---: | ---: |\n"
	for (k = 1; k <= n; k++) {
		m = order[k]; ratios = ""; ro = ""; rn = ""
		for (r = 1; r <= rounds; r++) {
			if (((m, "old", r) in v) && ((m, "new", r) in v) && v[m, "old", r] + 0 != 0) ratios = ratios " " v[m, "new", r] / v[m, "old", r]
			ro = ro (r > 1 ? ", " : "") fmt(v[m, "old", r]); rn = rn (r > 1 ? ", " : "") fmt(v[m, "new", r])
		}
		rl = ""; nr = split(ratios, ra, " ")
		for (i = 1; i <= nr; i++) rl = rl (i > 1 ? ", " : "") sprintf("%.2f", ra[i])
		printf "| %s | %s (%s) | %s (%s) | %s (%s) |\n", m, fmt(median(vals[m, "old"])), ro, fmt(median(vals[m, "new"])), rn,
			nr ? sprintf("%.2f", median(ratios)) : "-", rl
	}
}' "$results" | tee "$out/table.md"
echo
echo "compare.sh: raw results in $results, logs in $out" >&2
