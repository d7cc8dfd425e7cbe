#!/bin/sh
# Prepares compose.yaml's two witnesses. compose.yaml runs it in the
# image's build stage (the final image has no shell), as two one-shot
# services:
#
#   witnesses.sh keys       before the replicas start: each witness's key
#                           (witness keygen) and the replicas' witness
#                           policy, DIR/policy (serve --witnesses)
#   witnesses.sh log URL    once the first replica answers: the log's
#                           verifier key from URL/log/key, DIR/logs, which
#                           the witnesses read (witness serve --logs)
#
# Both leave what exists alone, so that a restart keeps the keys.
# In a real deployment the witnesses are other provinces' and get the
# log's key from its operator, not from the log itself.
#
# Environment: HEALTHCODE (the binary, /out/healthcode), WITNESS_DIR
# (/witnesses), WITNESS_A_URL and WITNESS_B_URL (http://witness-a:8090,
# http://witness-b:8090: where the replicas reach them), WITNESS_OWNER
# (65532:65532, the image's user, who must own the keys; empty: leave
# the owner). cmd/healthcode/packaging_test.go runs it with these
# replaced.
set -eu

bin=${HEALTHCODE:-/out/healthcode}
dir=${WITNESS_DIR:-/witnesses}
owner=${WITNESS_OWNER-65532:65532}

case "${1:-}" in
keys)
	if [ -f "$dir/policy" ]; then
		echo "witnesses: $dir/policy exists"
		exit 0
	fi
	rm -f "$dir/policy.tmp"
	for w in a b; do
		name=witness-$w.healthcode.local
		key=$dir/witness-$w.key
		[ -f "$key" ] || "$bin" witness keygen --key "$key" --name "$name" >/dev/null
		vkey=$("$bin" witness key --key "$key")
		if [ "$w" = a ]; then url=${WITNESS_A_URL:-http://witness-a:8090}; else url=${WITNESS_B_URL:-http://witness-b:8090}; fi
		echo "witness $name $vkey $url" >>"$dir/policy.tmp"
	done
	echo "quorum 2" >>"$dir/policy.tmp"
	if [ -n "$owner" ]; then
		chown "$owner" "$dir"/witness-?.key
	fi
	mv "$dir/policy.tmp" "$dir/policy"
	echo "witnesses: $dir/policy written"
	;;
log)
	url=${2:?usage: witnesses.sh log URL}
	if [ -f "$dir/logs" ]; then
		echo "witnesses: $dir/logs exists"
		exit 0
	fi
	i=0
	until curl -fsS "$url/log/key" >"$dir/logs.tmp"; do
		i=$((i + 1))
		if [ "$i" -ge 120 ]; then
			echo "witnesses: $url/log/key did not answer in 2 minutes" >&2
			exit 1
		fi
		sleep 1
	done
	mv "$dir/logs.tmp" "$dir/logs"
	echo "witnesses: $dir/logs written: $(cat "$dir/logs")"
	;;
*)
	echo "usage: witnesses.sh keys | witnesses.sh log URL" >&2
	exit 2
	;;
esac
