#!/usr/bin/env bash
# keyward-client's exit status against misbehaving servers (tests/tls/bad_server.py), bad usage,
# bad local files, timeouts and signals.  Every case checks the exact exit status and, where the
# client must explain itself, the message.
#   test_client_errors.sh [CASE-REGEX]
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
: "${KW_CLIENT:?}"
only=${1:-}
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3)

kw_test_start tls.client_errors
kw_tmpdir T || exit 1
kw_make_ca "$T/ca" || exit 1
kw_make_ca "$T/other" || exit 1
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/k.key" 2>/dev/null &&
    openssl pkey -in "$T/k.key" -pubout -out "$T/k.pub" || exit 1
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/k2.key" 2>/dev/null || exit 1
kw_issue_cert "$T/ca" "$T/k.pub" "/CN=kw-client/O=keyward tests" "$T/k.crt" || exit 1
mkdir "$T/adir"
printf 'not a certificate\n' > "$T/garbage.pem"

want() { [ -z "$only" ] || [[ $1 =~ $only ]]; }

SRV_PID=""
# start_bad MODE [ARGS...]: starts bad_server.py, sets PORT once it listens
start_bad() {
    stop_bad
    rm -f "$T/port"
    "$py" "$here/bad_server.py" --dir "$T/ca" --port-file "$T/port" "$@" > "$T/srv.log" 2>&1 &
    SRV_PID=$!
    local i
    for ((i = 0; i < 200; i++)); do
        [ -s "$T/port" ] && { PORT=$(cat "$T/port"); return 0; }
        kill -0 "$SRV_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "bad_server.py $* did not start:"; cat "$T/srv.log"
    return 1
}
stop_bad() {
    if [ -n "$SRV_PID" ]; then
        kill "$SRV_PID" 2>/dev/null; wait "$SRV_PID" 2>/dev/null
        SRV_PID=""
    fi
}
kw_on_exit stop_bad

client_args=(--cacert "$T/ca/ca.pem" --cert "$T/k.crt" --key "file:$T/k.key")

# expect NAME STATUS STDERR-REGEX MAX-SECONDS CLIENT-ARGS... : runs the client, checks the status,
# that stderr matches (grep -E, "" for anything) and the run took at most MAX-SECONDS (0: no limit)
expect() {
    local name=$1 status=$2 re=$3 max=$4 rc t0 t1 ms
    shift 4
    t0=$EPOCHREALTIME
    "$KW_CLIENT" "$@" > "$T/out" 2> "$T/err"; rc=$?
    t1=$EPOCHREALTIME
    ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", (b - a) * 1000 }')
    if [ "$rc" -ne "$status" ]; then
        bad "$name: exit $rc, expected $status"; sed 's/^/#    /' "$T/err"
    elif [ -n "$re" ] && ! grep -Eq -- "$re" "$T/err"; then
        bad "$name: stderr does not match /$re/"; sed 's/^/#    /' "$T/err"
    elif [ "$max" != 0 ] && [ "$ms" -gt $((max * 1000)) ]; then
        bad "$name: took $ms ms, more than $max s"
    else
        ok "$name (exit $rc, $ms ms): $(grep -v '^\*' "$T/err" | head -n 1)"
    fi
}

# ---- HTTP answers
if want http; then
    start_bad http --status 400 --reason "Bad Request" --body "400 The SSL certificate error" \
        --length 29 || exit 1
    expect "http 400 -> 22" 22 'HTTP 400' 10 "${client_args[@]}" "https://127.0.0.1:$PORT/"
    if ! grep -q '400 The SSL certificate error' "$T/err" || [ -s "$T/out" ]; then
        bad "http 400: the body must be on stderr, not stdout"
    else ok "http 400: body on stderr"; fi
    expect "http 400 --no-fail -> 0" 0 '' 10 --no-fail "${client_args[@]}" "https://127.0.0.1:$PORT/"
    if [ "$(cat "$T/out")" != "400 The SSL certificate error" ]; then
        bad "http 400 --no-fail: body not on stdout"; else ok "http 400 --no-fail: body on stdout"; fi

    start_bad http --body "0123456789" --length 100 --end close_notify || exit 1
    expect "short body, close_notify -> 18" 18 '10 of 100 body bytes' 10 "${client_args[@]}" \
        "https://127.0.0.1:$PORT/"
    start_bad http --body "0123456789" --length 1000 --end reset || exit 1
    expect "short body, reset -> 18" 18 'reset.*10 of 1000' 10 "${client_args[@]}" "https://127.0.0.1:$PORT/"
    start_bad http --body "0123456789" --end eof || exit 1
    expect "no length, EOF without close_notify -> 56" 56 'without close_notify.*no Content-Length' 10 \
        "${client_args[@]}" "https://127.0.0.1:$PORT/"
    start_bad http --body "0123456789" --end reset || exit 1
    expect "no length, reset -> 56" 56 'reset the connection.*no Content-Length' 10 \
        "${client_args[@]}" "https://127.0.0.1:$PORT/"
    start_bad http --body "0123456789" --length 10 --end eof || exit 1
    expect "full length, EOF without close_notify -> 0" 0 '' 10 "${client_args[@]}" "https://127.0.0.1:$PORT/"
    [ "$(cat "$T/out")" = 0123456789 ] && ok "full length: body printed" || bad "full length: body '$(cat "$T/out")'"
    start_bad http --body "0123456789" --end close_notify || exit 1
    expect "no length, close_notify -> 0" 0 '' 10 "${client_args[@]}" "https://127.0.0.1:$PORT/"
    [ "$(cat "$T/out")" = 0123456789 ] && ok "no length: body printed" || bad "no length: body '$(cat "$T/out")'"
    # a host name: looked up in the resolver thread (the server's certificate names localhost)
    expect "host name localhost -> 0" 0 '' 10 "${client_args[@]}" "https://localhost:$PORT/"
    [ "$(cat "$T/out")" = 0123456789 ] && ok "localhost: body printed" || bad "localhost: body '$(cat "$T/out")'"
fi

# ---- alerts and hang-ups after the handshake
if want alert; then
    start_bad reject --trust "$T/other/ca.pem" || exit 1
    expect "alert during the request -> 35" 35 'fatal alert [a-z_]+ \([0-9]+\).*rejected' 10 \
        --tls-min 1.3 "${client_args[@]}" "https://127.0.0.1:$PORT/"
    expect "tls:// alert after the handshake -> 35" 35 'fatal alert [a-z_]+ \([0-9]+\)' 10 \
        --tls-min 1.3 "${client_args[@]}" "tls://127.0.0.1:$PORT"
    start_bad tls-eof || exit 1
    expect "tls:// EOF without close_notify -> 35" 35 \
        'closed the connection without close_notify: it probably rejected the certificate' 10 \
        "${client_args[@]}" "tls://127.0.0.1:$PORT"
    for v in 1.2 1.3; do
        start_bad tls-silent || exit 1  # serves one connection at a time
        expect "tls:// TLS $v server silent, connection open -> 0" 0 '' 10 \
            --tls-min $v --tls-max $v "${client_args[@]}" "tls://127.0.0.1:$PORT"
    done
fi

# ---- deadlines
if want time; then
    start_bad slow-handshake || exit 1
    expect "one byte every 2 s in the handshake, --max-time 4 -> 28" 28 'timed out in the TLS handshake: --max-time' 6 \
        --connect-timeout 30 --max-time 4 "${client_args[@]}" "tls://127.0.0.1:$PORT"
    expect "one byte every 2 s in the handshake, --connect-timeout 3 -> 28" 28 'timed out.*--connect-timeout' 5 \
        --connect-timeout 3 "${client_args[@]}" "tls://127.0.0.1:$PORT"
    start_bad slow-body || exit 1
    expect "one body byte every 2 s, --max-time 4 -> 28" 28 'timed out reading the response: --max-time' 6 \
        --max-time 4 "${client_args[@]}" "https://127.0.0.1:$PORT/"
    start_bad backlog || exit 1
    expect "full accept queue, --connect-timeout 2 -> 28" 28 'timed out connecting: --connect-timeout' 4 \
        --connect-timeout 2 "${client_args[@]}" "tls://127.0.0.1:$PORT"
    stop_bad
    port=$(kw_free_port) || exit 1
    expect "nothing listening -> 7" 7 "cannot connect to 127.0.0.1 port $port" 5 \
        "${client_args[@]}" "tls://127.0.0.1:$port"
fi

# ---- signals: the client leaves through its cleanup and says why
if want signal; then
    start_bad hang || exit 1
    for sig in TERM INT; do
        # default dispositions, as from a terminal (a script's background job ignores SIGINT)
        env --default-signal=INT,TERM "$KW_CLIENT" "${client_args[@]}" "tls://127.0.0.1:$PORT" \
            > "$T/out" 2> "$T/err" &
        cpid=$!
        # wait until the client is connected (its socket shows up), then signal it
        kw_wait_for_connection "$PORT" 10
        kill -s "$sig" "$cpid"
        wait "$cpid"; rc=$?
        want_rc=143; [ $sig = INT ] && want_rc=130
        if [ $rc -eq $want_rc ] && grep -q "interrupted by SIG$sig" "$T/err"; then
            ok "SIG$sig in the handshake -> $rc: $(cat "$T/err")"
        else
            bad "SIG$sig in the handshake: exit $rc (want $want_rc), stderr: $(cat "$T/err")"
        fi
    done
    # started with SIGINT ignored (nohup, a background job): it stays ignored, SIGTERM still works
    env --ignore-signal=INT "$KW_CLIENT" "${client_args[@]}" "tls://127.0.0.1:$PORT" > "$T/out" 2> "$T/err" &
    cpid=$!
    kw_wait_for_connection "$PORT" 10
    kill -s INT "$cpid"; kill -s TERM "$cpid"
    wait "$cpid"; rc=$?
    if [ $rc -eq 143 ] && grep -q "interrupted by SIGTERM" "$T/err"; then
        ok "SIGINT ignored from the start stays ignored; SIGTERM -> 143"
    else
        bad "SIGINT ignored from the start: exit $rc (want 143), stderr: $(cat "$T/err")"
    fi
fi

# ---- usage
if want usage; then
    expect "no arguments -> 2" 2 'required' 5
    expect "unknown option -> 2" 2 "unknown or incomplete option '--frobnicate'" 5 --frobnicate "${client_args[@]}" tls://127.0.0.1:1
    expect "bad URL -> 2" 2 'bad URL' 5 "${client_args[@]}" ftp://127.0.0.1/
    expect "port 0 -> 2" 2 'bad URL' 5 "${client_args[@]}" tls://127.0.0.1:0
    expect "--max-time abc -> 2" 2 "--max-time takes seconds" 5 --max-time abc "${client_args[@]}" tls://127.0.0.1:1
    expect "--max-time 0 -> 2" 2 "--max-time takes seconds" 5 --max-time 0 "${client_args[@]}" tls://127.0.0.1:1
    expect "--connect-timeout nan -> 2" 2 "--connect-timeout takes seconds" 5 --connect-timeout nan "${client_args[@]}" tls://127.0.0.1:1
    expect "--tls-max 1.1 -> 2" 2 "takes 1.2 or 1.3" 5 --tls-max 1.1 "${client_args[@]}" tls://127.0.0.1:1
    expect "missing option value -> 2" 2 "incomplete option '--key'" 5 --cacert "$T/ca/ca.pem" --cert "$T/k.crt" tls://127.0.0.1:1 --key
fi

# ---- local certificate and key problems: 58, before any connection (port 1 would be exit 7)
if want files; then
    u=tls://127.0.0.1:1
    expect "--cert directory -> 58" 58 "client certificate $T/adir: not a regular file" 5 --cacert "$T/ca/ca.pem" --cert "$T/adir" --key "file:$T/k.key" $u
    expect "--cacert directory -> 58" 58 "CA certificate $T/adir: not a regular file" 5 --cacert "$T/adir" --cert "$T/k.crt" --key "file:$T/k.key" $u
    expect "file: key directory -> 58" 58 "software key $T/adir: not a regular file" 5 --cacert "$T/ca/ca.pem" --cert "$T/k.crt" --key "file:$T/adir" $u
    expect "--cert missing -> 58" 58 "client certificate $T/nonexistent: No such file" 5 --cacert "$T/ca/ca.pem" --cert "$T/nonexistent" --key "file:$T/k.key" $u
    expect "file: key missing -> 58" 58 "cannot open key file:$T/nonexistent: PSA_ERROR_DOES_NOT_EXIST: .*No such file" 5 --cacert "$T/ca/ca.pem" --cert "$T/k.crt" --key "file:$T/nonexistent" $u
    # Mbed TLS's own words, not a bare hex code
    expect "--cert garbage -> 58" 58 "client certificate $T/garbage.pem: [A-Z0-9]+ - [A-Za-z]" 5 --cacert "$T/ca/ca.pem" --cert "$T/garbage.pem" --key "file:$T/k.key" $u
    # RSA: the matching key passes the check (and reaches the connect: 7), another key of the
    # same size does not
    for r in r1 r2; do
        openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/$r.key" 2>/dev/null || exit 1
    done
    openssl pkey -in "$T/r1.key" -pubout -out "$T/r1.pub" || exit 1
    kw_issue_cert "$T/ca" "$T/r1.pub" "/CN=kw-rsa/O=keyward tests" "$T/r1.crt" || exit 1
    expect "RSA certificate with its key -> past the check (7)" 7 "cannot connect" 5 \
        --cacert "$T/ca/ca.pem" --cert "$T/r1.crt" --key "file:$T/r1.key" $u
    expect "RSA certificate with another RSA-2048 key -> 58" 58 "does not match the key file:$T/r2.key.*not the key's public key" 5 \
        --cacert "$T/ca/ca.pem" --cert "$T/r1.crt" --key "file:$T/r2.key" $u
    expect "EC certificate with an RSA key -> 58" 58 "holds an EC P-256 public key, the key is RSA-2048" 5 \
        --cacert "$T/ca/ca.pem" --cert "$T/k.crt" --key "file:$T/r2.key" $u
    # id-RSASSA-PSS certificates (README Limits): refused with Mbed TLS's reason
    openssl genpkey -algorithm RSA-PSS -pkeyopt rsa_keygen_bits:2048 -out "$T/pss.key" 2>/dev/null &&
        openssl req -x509 -new -key "$T/pss.key" -subj "/CN=kw-pss" -days 1 -out "$T/pss.crt" 2>/dev/null || exit 1
    expect "id-RSASSA-PSS certificate -> 58" 58 "client certificate $T/pss.crt: PK - (Key algorithm is unsupported|public key algorithm not supported)" 5 \
        --cacert "$T/ca/ca.pem" --cert "$T/pss.crt" --key "file:$T/pss.key" $u
    expect "certificate of another key -> 58" 58 "client certificate $T/k.crt does not match the key file:$T/k2.key" 5 \
        --cacert "$T/ca/ca.pem" --cert "$T/k.crt" --key "file:$T/k2.key" $u
fi

kw_test_done tls.client_errors
