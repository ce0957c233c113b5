#!/bin/bash
# cli.header: "osprofiler header sign|verify" against the golden vectors.
set -u
. "$(dirname "$0")/lib.sh"
osp=$1
INFO=eyJiYXNlX2lkIjogIjNjMWQ1YzJhLTVhMWYtNGM2ZS05YjNlLTFmMmQzYzRiNWE2OSIsICJwYXJlbnRfaWQiOiAiM2MxZDVjMmEtNWExZi00YzZlLTliM2UtMWYyZDNjNGI1YTY5In0=
HMAC=beb996edf679825959b1e50c98be4d1eb442f9a0
ID=3c1d5c2a-5a1f-4c6e-9b3e-1f2d3c4b5a69

out=$("$osp" header sign --hmac-key SECRET_KEY --base-id $ID)
check "sign prints exactly the two golden lines" "X-Trace-Info: $INFO
X-Trace-HMAC: $HMAC" "$out"
out=$(OSPROFILER_HMAC_KEY=SECRET_KEY "$osp" header sign --base-id $ID --parent-id $ID)
check "sign takes the key from the environment" "X-Trace-Info: $INFO
X-Trace-HMAC: $HMAC" "$out"

out=$("$osp" header verify --hmac-keys "wrong, SECRET_KEY" $INFO $HMAC); rc=$?
check "verify exit 0" 0 $rc
check "verify prints the context, not the key" "{\"base_id\": \"$ID\", \"parent_id\": \"$ID\"}" "$out"

err=$("$osp" header verify --hmac-keys wrong $INFO $HMAC 2>&1 >/dev/null); rc=$?
check "verify with no matching key exits 1" 1 $rc
case $err in *"no configured hmac key matches"*) r=yes ;; *) r=no ;; esac
check "verify says why" yes $r
case $err in *wrong*) r=leaked ;; *) r=clean ;; esac
check "the key is not printed" clean $r

err=$("$osp" header verify --hmac-keys SECRET_KEY $INFO ${HMAC^^} 2>&1); rc=$?
check "upper-case hmac is rejected" 1 $rc
case $err in *"40 lower-case hex"*) r=yes ;; *) r=no ;; esac
check "upper-case hmac reason" yes $r

# verify applies osp_web_begin's acceptance (osp__trace_ctx_check), not only
# the signature: each context below is validly signed with SECRET_KEY.
signed() { # signed JSON -> "INFO HMAC", as Python's signed_pack
    local info; info=$(printf '%s' "$1" | base64 -w0 | tr '+/' '-_')
    printf '%s %s' "$info" "$(printf '%s' "$info" | openssl dgst -sha1 -hmac SECRET_KEY | sed 's/.* //')"
}
long=$(printf 'a%.0s' $(seq 300)) max=$(printf 'a%.0s' $(seq 255))
while IFS='|' read -r ctx want reason; do
    # shellcheck disable=SC2046
    err=$("$osp" header verify --hmac-keys SECRET_KEY $(signed "$ctx") 2>&1 >/dev/null)
    check "verify ${ctx:0:40}: exit $want" "$want" $?
    case $err in *"$reason"*) r=yes ;; *) r=no ;; esac
    check "verify ${ctx:0:40}: reason '$reason'" yes $r
done <<EOF2
{"base_id": 5}|1|OSP_EBADKEYS): base_id is not a string
{}|1|OSP_EBADKEYS): no base_id
{"base_id": "$long"}|1|OSP_EBADKEYS): base_id is longer than 255 bytes
{"base_id": "b", "parent_id": "$long"}|1|parent_id is longer than 255 bytes
{"parent_id": "p"}|1|no base_id
{"base_id": "b", "foo": 1}|1|unexpected key
{"base_id": ""}|1|base_id is empty
{"base_id": "a\u0000b"}|1|base_id holds a NUL byte
{"base_id": "b"}|0|
{"base_id": "$max", "parent_id": "$max"}|0|
{"base_id": "b", "parent_id": "p", "hmac_key": "client"}|0|
EOF2
out=$("$osp" header verify --hmac-keys SECRET_KEY $(signed '{"base_id": "b", "hmac_key": "client"}'))
check "accepted context printed without any key" '{"base_id": "b"}' "$out"

"$osp" header sign --base-id x >/dev/null 2>&1; check "sign without key is a usage error" 2 $?
"$osp" header verify --hmac-keys k onlyone >/dev/null 2>&1; check "verify arity" 2 $?
"$osp" bogus >/dev/null 2>&1; check "unknown command" 2 $?
"$osp" --version | grep -Eq '^[0-9]+\.[0-9]+\.[0-9]+$'; check "version" 0 $?
finish
