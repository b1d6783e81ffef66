#!/usr/bin/env bash
# tests/tls/selftest.sh - test of the TLS test harness (lib.sh) with a SOFTWARE client key and
# `openssl s_client` as the client (keyward-client is not used here).
#
# For every server KIND (openssl gnutls nginx mbedtls):
#   - server restricted to TLS 1.2, then 1.3: mutual TLS at that version works and the server saw
#     the client certificate's subject; the other version is refused;
#   - server with both versions: TLS 1.2 and 1.3 client auth work (certificate from
#     kw_issue_cert, and from kw_issue_cert_csr);
#   - negatives: no client certificate (TLS 1.2 and 1.3) and a certificate with the same subject
#     and key but from another CA must not let the server see the subject.
#   - if KW_SSL_CLIENT2 (Mbed TLS programs/ssl/ssl_client2) is set: the same with Mbed TLS as the
#     client, checking the server certificate against 127.0.0.1 (what keyward-client will do).
#   - kw_server_saw_subject rejects a wrong CN (a prefix of the right one, the server's CN).
# Harness cases (skip with KW_SELFTEST_NO_HARNESS=1): kw_start_server fails on a busy port and
# without KW_SSL_SERVER2; a child test that fails under set -e, gets SIGTERM or SIGKILL leaves
# no server running (and, except for SIGKILL, no temp dir). Finally: every server is gone.
#
# Environment: KW_SSL_SERVER2 (required for the mbedtls kind), KW_SSL_CLIENT2 (optional),
#              KW_SELFTEST_KINDS (default "openssl gnutls nginx mbedtls"), KW_VERBOSE=1.
# Output: one "ok ..." / "FAIL ..." line per case, then the count (tests/support/kwcheck.sh).

set -u

HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

KINDS=${KW_SELFTEST_KINDS:-"openssl gnutls nginx mbedtls"}
SUBJ="/CN=keyward selftest client/O=keyward"
ALL_PIDS=()

note() { sed 's/^/#    /' ; }

kw_test_start tls.harness_selftest
kw_tmpdir T || exit 1

# client_openssl OUTPREFIX PORT CAFILE TLSVER(""|1.2|1.3) [CERT KEY]
# writes OUTPREFIX.out (stdout: HTTP response) and OUTPREFIX.err; returns s_client's status
client_openssl() {
    local out=$1 port=$2 ca=$3 ver=$4 cert=${5:-} key=${6:-}
    local -a args=(-connect "127.0.0.1:$port" -CAfile "$ca" -verify_return_error
                   -verify_ip 127.0.0.1 -quiet)
    [ -n "$cert" ] && args+=(-cert "$cert" -key "$key")
    case $ver in
        1.2) args+=(-tls1_2) ;;
        1.3) args+=(-tls1_3) ;;
    esac
    printf 'GET / HTTP/1.0\r\n\r\n' |
        timeout 20 openssl s_client "${args[@]}" >"$out.out" 2>"$out.err"
}

# client_mbedtls OUTPREFIX PORT CAFILE TLSVER CERT KEY  (ssl_client2, verifies IP 127.0.0.1)
client_mbedtls() {
    local out=$1 port=$2 ca=$3 ver=$4 cert=$5 key=$6
    local -a args=(server_addr=127.0.0.1 "server_port=$port" server_name=127.0.0.1
                   "ca_file=$ca" "crt_file=$cert" "key_file=$key" auth_mode=required)
    case $ver in
        1.2) args+=(force_version=tls12) ;;
        1.3) args+=(force_version=tls13) ;;
    esac
    timeout 20 "$KW_SSL_CLIENT2" "${args[@]}" >"$out.out" 2>"$out.err"
}

diag() {
    # diag KIND DIR OUTPREFIX : show what went wrong
    local kind=$1 dir=$2 out=$3 log
    log=$(kw_server_log "$kind" "$dir")
    {
        [ -s "$out.err" ] && { echo "client stderr:"; tail -n 8 "$out.err"; }
        [ -s "$out.out" ] && { echo "client stdout:"; tail -n 15 "$out.out"; }
        [ -s "$log" ] && { echo "server log ($log):"; tail -n 15 "$log"; }
    } | note
}

# expect_ok KIND DIR OUT NAME RC : client succeeded, got a 200 page and the server saw SUBJ
expect_ok() {
    local kind=$1 dir=$2 out=$3 name=$4 rc=$5
    if [ "$rc" -ne 0 ]; then
        bad "$name (client exit $rc)"; diag "$kind" "$dir" "$out"; return
    fi
    if ! grep -qiE '^HTTP/1\.[01] 200' "$out.out"; then
        bad "$name (no HTTP 200 response)"; diag "$kind" "$dir" "$out"; return
    fi
    if ! kw_server_saw_subject "$kind" "$dir" "$SUBJ" "$out.out"; then
        bad "$name (server did not see subject)"; diag "$kind" "$dir" "$out"; return
    fi
    ok "$name"
    [ "${KW_VERBOSE:-}" = 1 ] && diag "$kind" "$dir" "$out"
    return 0
}

# expect_refused KIND DIR OUT NAME RC [need_handshake_failure]
expect_refused() {
    local kind=$1 dir=$2 out=$3 name=$4 rc=$5 hs=${6:-}
    if kw_server_saw_subject "$kind" "$dir" "$SUBJ" "$out.out"; then
        bad "$name (server saw the subject)"; diag "$kind" "$dir" "$out"; return
    fi
    if [ -n "$hs" ] && [ "$rc" -eq 0 ]; then
        bad "$name (handshake did not fail)"; diag "$kind" "$dir" "$out"; return
    fi
    local how="handshake failed, client exit $rc"
    [ "$rc" -eq 0 ] && how="handshake ok but: $(grep -m1 -iE '^HTTP/' "$out.out" | tr -d '\r')"
    ok "$name ($how)"
    [ "${KW_VERBOSE:-}" = 1 ] && diag "$kind" "$dir" "$out"
    return 0
}

start() {
    # start KIND DIR PORT TLSVER : kw_start_server + remember the pid
    if kw_start_server "$@"; then
        ALL_PIDS+=("${KW_SERVER_PIDS[-1]}")
        return 0
    fi
    return 1
}

run_kind() {
    local kind=$1
    local d="$T/$kind" port ver other rc out n=0
    if [ "$kind" = mbedtls ] && [ -z "${KW_SSL_SERVER2:-}" ]; then
        bad "mbedtls: KW_SSL_SERVER2 is not set (path of Mbed TLS's programs/ssl/ssl_server2)"
        return
    fi
    mkdir -p "$d"
    if ! kw_make_ca "$d" || ! kw_make_ca "$d/rogue"; then
        bad "$kind: kw_make_ca"; return
    fi
    # software client key, certificate for its public key (kw_issue_cert) ...
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$d/client.key" 2>/dev/null &&
        openssl pkey -in "$d/client.key" -pubout -out "$d/client.pub" &&
        kw_issue_cert "$d" "$d/client.pub" "$SUBJ" "$d/client.pem" &&
        # same subject and key, but issued by another CA: must be refused
        kw_issue_cert "$d/rogue" "$d/client.pub" "$SUBJ" "$d/rogue.pem" &&
        # ... and a second key via a CSR (kw_issue_cert_csr)
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$d/csr.key" 2>/dev/null &&
        openssl req -new -key "$d/csr.key" -subj "$SUBJ" -config "$d/ca-ext.cnf" -out "$d/client.csr" &&
        kw_issue_cert_csr "$d" "$d/client.csr" "$d/csr.pem" ||
        { bad "$kind: issuing the client certificates"; return; }

    # --- servers restricted to one version
    for ver in 1.2 1.3; do
        other=1.3; [ "$ver" = 1.3 ] && other=1.2
        port=$(kw_free_port) || { bad "$kind: kw_free_port"; return; }
        if ! start "$kind" "$d" "$port" "$ver"; then
            bad "$kind server TLS $ver only: kw_start_server"; continue
        fi
        out="$d/c$((n++))"
        client_openssl "$out" "$port" "$d/ca.pem" "$ver" "$d/client.pem" "$d/client.key"; rc=$?
        expect_ok "$kind" "$d" "$out" "$kind server TLS $ver only: client auth with TLS $ver" "$rc"
        if [ "$ver" = 1.2 ]; then
            # the subject check must not accept a mere prefix of the CN, nor another CN
            if kw_server_saw_subject "$kind" "$d" "/CN=keyward selftest/O=keyward" "$out.out" ||
               kw_server_saw_subject "$kind" "$d" "/CN=localhost" "$out.out"; then
                bad "$kind: kw_server_saw_subject accepts a wrong CN"
            else
                ok "$kind: kw_server_saw_subject rejects a wrong CN"
            fi
        fi

        kw_server_mark "$kind" "$d"
        out="$d/c$((n++))"
        client_openssl "$out" "$port" "$d/ca.pem" "$other" "$d/client.pem" "$d/client.key"; rc=$?
        expect_refused "$kind" "$d" "$out" "$kind server TLS $ver only: refuses a TLS $other client" "$rc" hs
        kw_stop_server "$kind" "$d"
    done

    # --- server with both versions
    port=$(kw_free_port) || { bad "$kind: kw_free_port"; return; }
    if ! start "$kind" "$d" "$port"; then
        bad "$kind server TLS 1.2+1.3: kw_start_server"; return
    fi
    for ver in 1.2 1.3; do
        kw_server_mark "$kind" "$d"
        out="$d/c$((n++))"
        client_openssl "$out" "$port" "$d/ca.pem" "$ver" "$d/client.pem" "$d/client.key"; rc=$?
        expect_ok "$kind" "$d" "$out" "$kind server TLS 1.2+1.3: client auth with TLS $ver" "$rc"
    done
    kw_server_mark "$kind" "$d"
    out="$d/c$((n++))"
    client_openssl "$out" "$port" "$d/ca.pem" "" "$d/csr.pem" "$d/csr.key"; rc=$?
    expect_ok "$kind" "$d" "$out" "$kind server TLS 1.2+1.3: client auth, certificate from CSR" "$rc"

    for ver in 1.2 1.3; do
        kw_server_mark "$kind" "$d"
        out="$d/c$((n++))"
        client_openssl "$out" "$port" "$d/ca.pem" "$ver"; rc=$?
        expect_refused "$kind" "$d" "$out" "$kind server TLS 1.2+1.3: no client certificate, TLS $ver" "$rc"
    done
    kw_server_mark "$kind" "$d"
    out="$d/c$((n++))"
    client_openssl "$out" "$port" "$d/ca.pem" "" "$d/rogue.pem" "$d/client.key"; rc=$?
    expect_refused "$kind" "$d" "$out" "$kind server TLS 1.2+1.3: client certificate from an unknown CA" "$rc"

    if [ -n "${KW_SSL_CLIENT2:-}" ]; then
        for ver in 1.2 1.3; do
            kw_server_mark "$kind" "$d"
            out="$d/c$((n++))"
            client_mbedtls "$out" "$port" "$d/ca.pem" "$ver" "$d/client.pem" "$d/client.key"; rc=$?
            # ssl_client2 prints the response after "  < Read from server: N bytes read"
            # (once per read): keep the full output in .log, the response text in .out
            mv "$out.out" "$out.log"
            sed -n '/^  < Read from server: /,$p' "$out.log" |
                grep -v -e '^  < Read from server: ' -e '^  \. Closing the connection' > "$out.out"
            expect_ok "$kind" "$d" "$out" "$kind server TLS 1.2+1.3: ssl_client2 client auth with TLS $ver" "$rc"
        done
    fi
    kw_stop_server "$kind" "$d"
}

# _none_alive PIDFILE : no pid listed in PIDFILE is alive
_none_alive() {
    local p
    for p in $(cat "$1" 2>/dev/null); do
        _kw_alive "$p" && return 1
    done
    return 0
}

harness() {
    local d="$T/harness" port rc out
    mkdir -p "$d"
    kw_make_ca "$d" || { bad "harness: kw_make_ca"; return; }

    # a server that cannot bind must make kw_start_server fail (and not hang)
    port=$(kw_free_port) || { bad "harness: kw_free_port"; return; }
    if start openssl "$d" "$port"; then
        local t0=$SECONDS
        if KW_SERVER_TIMEOUT=5 kw_start_server gnutls "$d" "$port" 2>"$d/busy.err"; then
            bad "harness: kw_start_server succeeded on a busy port"
        elif [ $((SECONDS - t0)) -gt 8 ]; then
            bad "harness: kw_start_server took $((SECONDS - t0)) s to fail on a busy port"
        else
            ok "harness: kw_start_server fails on a busy port ($(grep -c . "$d/busy.err") lines of diagnostics)"
        fi
        kw_stop_server gnutls "$d"
        kw_stop_server openssl "$d"
    else
        bad "harness: kw_start_server openssl"
    fi

    if KW_SSL_SERVER2='' kw_start_server mbedtls "$d" "$port" 2>"$d/nombed.err"; then
        bad "harness: kw_start_server mbedtls without KW_SSL_SERVER2 succeeded"
    elif grep -q KW_SSL_SERVER2 "$d/nombed.err"; then
        ok "harness: kw_start_server mbedtls without KW_SSL_SERVER2 fails clearly"
    else
        bad "harness: no clear message without KW_SSL_SERVER2"; note < "$d/nombed.err"
    fi

    # a test that fails midway (set -e) or is killed still stops its servers / removes its dirs
    local mode
    for mode in fail term kill; do
        out="$d/child-$mode"
        cat > "$out.sh" <<EOF
set -eu
. "$HERE/lib.sh"
kw_tmpdir D
kw_make_ca "\$D"
kw_start_server openssl "\$D" "\$(kw_free_port)"
kw_start_server nginx "\$D" "\$(kw_free_port)"
echo "\${KW_SERVER_PIDS[*]} \${KW_SERVER_DOGS[*]}" > "$out.pids"
echo "\$D" > "$out.dir"
case $mode in
    fail) false ;;
    term) kill -TERM \$\$; sleep 10 ;;  # (the trap ends it first: the sleep is never waited out)
    kill) kill -KILL \$\$ ;;
esac
exit 0
EOF
        rc=0
        (bash "$out.sh" >"$out.log" 2>&1; exit $?) 2>/dev/null || rc=$?
        # SIGKILL runs no trap: the watchdogs (they poll once a second) stop the servers.
        [ "$mode" = kill ] && kw_wait_until 5 _none_alive "$out.pids"
        local left="" p
        for p in $(cat "$out.pids" 2>/dev/null); do
            _kw_alive "$p" && left+=" $p"
        done
        if [ ! -s "$out.pids" ]; then
            bad "harness: child ($mode) did not start its servers"; note < "$out.log"
        elif [ -n "$left" ]; then
            bad "harness: child ($mode, exit $rc) left processes:$left"
            for p in $left; do kill -KILL "$p" 2>/dev/null; done
        elif [ "$mode" != kill ] && [ -e "$(cat "$out.dir")" ]; then
            bad "harness: child ($mode) left its temp dir"
        elif [ "$mode" = fail ] && [ "$rc" -ne 1 ]; then
            bad "harness: child (fail) exit status $rc, expected 1"
        else
            [ "$mode" = kill ] && rm -rf -- "$(cat "$out.dir")"
            case $mode in
                fail) ok "harness: test failing under set -e: servers stopped, temp dir removed" ;;
                term) ok "harness: test killed by SIGTERM: servers stopped, temp dir removed" ;;
                kill) ok "harness: test killed by SIGKILL: watchdogs stopped the servers" ;;
            esac
        fi
    done
}

for kind in $KINDS; do
    run_kind "$kind"
done
[ -n "${KW_SELFTEST_NO_HARNESS:-}" ] || harness

# every server must be gone
kw_stop_servers
left=""
for pid in "${ALL_PIDS[@]}"; do
    _kw_alive "$pid" && left+=" $pid"
done
if [ -z "$left" ] && [ "${#ALL_PIDS[@]}" -gt 0 ]; then
    ok "all ${#ALL_PIDS[@]} servers stopped"
else
    bad "servers still running:${left:- (none started)}"
fi

kw_test_done
