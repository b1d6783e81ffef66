# shellcheck shell=bash
# tests/tls/lib.sh - bash helpers for keyward's mutual-TLS interop tests.
#
# Source this file from a bash test script:
#     . "$(dirname "$0")/lib.sh"
#
# Functions (all return non-zero and print a "kw: ..." message on stderr on error):
#   (kw_tmpdir, kw_on_exit, the checks and the waits come from tests/support/kwcheck.sh)
#   kw_free_port                    print a free TCP port (20000-32699, below the ephemeral range)
#   kw_make_ca DIR                  DIR/ca.{pem,key}, DIR/server.{pem,key} (EC P-256, CN=localhost)
#   kw_issue_cert DIR PUB SUBJ OUT  client cert for a public key held elsewhere (-force_pubkey)
#   kw_issue_cert_csr DIR CSR OUT   client cert from a (verified) CSR
#   kw_start_server KIND DIR PORT [TLSVER [EXTRA...]]
#                                   KIND: openssl gnutls nginx mbedtls mosquitto; TLSVER: "" 1.2 1.3
#                                   (mosquitto: an MQTT broker; kw_server_saw_subject does not
#                                   apply to it)
#   kw_server_mark KIND DIR         only server-log lines written after this count for
#                                   kw_server_saw_subject (mbedtls)
#   kw_server_saw_subject KIND DIR SUBJECT [BODY_FILE]
#                                   did the server see (and accept) a client cert with SUBJECT's CN?
#   kw_server_log KIND DIR          print the path of the server's log file
#   kw_stop_server KIND DIR         stop that one server
#   kw_stop_servers                 stop every server started by kw_start_server
#
# kw_tmpdir and kw_start_server keep state in the calling shell (the cleanup trap, the list of
# server pids): call them directly, never inside $(...) or a ( subshell ); they refuse to.
#
# Environment:
#   KW_SSL_SERVER2     path of Mbed TLS's programs/ssl/ssl_server2 (needed for KIND=mbedtls)
#   KW_SERVER_TIMEOUT  seconds to wait for a server to listen (default 10)
#
# Per-server files live in DIR/srv-KIND/: server.log (stdout+stderr of the server), pid, port,
# mark, and for nginx nginx.conf, error.log, access.log and the temp paths. At most one server
# per KIND and DIR at a time (use another DIR for a second server of the same KIND).

if [ -n "${KW_TLS_LIB_LOADED:-}" ]; then
    return 0
fi
KW_TLS_LIB_LOADED=1

# The check library: counting, the cleanup trap (kw_on_exit, kw_tmpdir), waits.
# shellcheck source=../support/kwcheck.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/../support/kwcheck.sh"
KW_CLEANUP_FIRST+=("kw_stop_servers")

KW_SERVER_PIDS=()    # pids of servers started by kw_start_server
KW_SERVER_DIRS=()    # matching DIR/srv-KIND directories
KW_SERVER_STARTS=()  # /proc start times of those pids (guards against pid reuse)
KW_SERVER_DOGS=()    # watchdog subshells: kill the server if this shell dies without cleanup

_kw_need() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || { _kw_err "required command not found: $c"; return 1; }
    done
}

# ---------------------------------------------------------------- ports

_kw_port_bindable() {
    # true if PORT can be bound on 0.0.0.0 and [::] (gnutls-serv binds both); falls back to
    # "nothing listens" if python3 is unusable
    local port=$1 rc=0 py=${KW_PYTHON:-}
    # the system python starts much faster than a pyenv shim
    [ -n "$py" ] || { [ -x /usr/bin/python3 ] && py=/usr/bin/python3; }
    if [ -z "$py" ] && ! py=$(command -v python3); then
        _kw_port_listening "$port" && return 1
        return 0
    fi
    "$py" - "$port" <<'EOF' 2>/dev/null || rc=$?
import socket, sys
p = int(sys.argv[1])
for fam, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
    try:
        s = socket.socket(fam, socket.SOCK_STREAM)
    except OSError:
        continue
    try:
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((addr, p))
    except OSError as e:
        if fam == socket.AF_INET6 and e.errno != 98:  # no IPv6 here: fine
            continue
        sys.exit(3)
    finally:
        s.close()
EOF
    case $rc in
        0) return 0 ;;
        3) return 1 ;;
        *) ! _kw_port_listening "$port" ;;
    esac
}

# kw_free_port : print a random TCP port in 20000-60000 that nothing listens on / binds.
kw_free_port() {
    local i port
    for ((i = 0; i < 200; i++)); do
        # Below Linux's ephemeral range (32768-60999 by default), so that no
        # client connection of a parallel test takes the port before the
        # server binds it.
        port=$((20000 + (RANDOM * 32768 + RANDOM) % 12700))
        if ! _kw_port_listening "$port" && _kw_port_bindable "$port"; then
            printf '%s\n' "$port"
            return 0
        fi
    done
    _kw_err "kw_free_port: no free port found"
    return 1
}

# ---------------------------------------------------------------- certificates

_kw_serial() { printf '0x%s\n' "$(openssl rand -hex 16)"; }

# kw_make_ca DIR
#   DIR/ca.key, DIR/ca.pem     EC P-256 CA "CN=keyward test CA, O=keyward tests", 2 days
#   DIR/server.key             EC P-256 (PKCS#8 PEM)
#   DIR/server.pem             CN=localhost, SAN DNS:localhost IP:127.0.0.1, KU digitalSignature,
#                              EKU serverAuth, 1 day
#   DIR/ca-ext.cnf             the extension profiles, reused by kw_issue_cert*
kw_make_ca() {
    local dir=${1:?kw_make_ca DIR}
    _kw_need openssl || return 1
    mkdir -p -- "$dir" || return 1
    if ! (
        set -e
        cd -- "$dir"
        umask 077
        cat > ca-ext.cnf <<'EOF'
# generated by keyward tests/tls/lib.sh
[ req ]
distinguished_name = req_dn
[ req_dn ]

[ v3_ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ v3_server ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ v3_client ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
            -pkeyopt ec_param_enc:named_curve -out ca.key
        openssl req -x509 -new -config ca-ext.cnf -extensions v3_ca -key ca.key -sha256 \
            -days 2 -set_serial "$(_kw_serial)" -subj "/CN=keyward test CA/O=keyward tests" \
            -out ca.pem
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
            -pkeyopt ec_param_enc:named_curve -out server.key
        openssl req -new -config ca-ext.cnf -key server.key -subj "/CN=localhost/O=keyward tests" \
            -out server.csr
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -set_serial "$(_kw_serial)" \
            -sha256 -days 1 -extfile ca-ext.cnf -extensions v3_server -out server.pem
        rm -f server.csr
        openssl verify -CAfile ca.pem -purpose sslserver server.pem
        chmod 644 ca.pem server.pem
    ) >"$dir/make-ca.log" 2>&1; then
        _kw_err "kw_make_ca: failed to create the CA in $dir:"
        cat "$dir/make-ca.log" >&2
        return 1
    fi
}

_kw_client_ext() {
    local dir=$1
    [ -f "$dir/ca-ext.cnf" ] || { _kw_err "$dir/ca-ext.cnf missing: run kw_make_ca $dir first"; return 1; }
    if [ ! -f "$dir/ca.pem" ] || [ ! -f "$dir/ca.key" ]; then
        _kw_err "no CA in $dir (run kw_make_ca)"; return 1
    fi
}

# kw_issue_cert DIR PUBKEY_PEM SUBJECT OUT_PEM
# SUBJECT in openssl -subj form: "/CN=keyward test client/O=keyward"
kw_issue_cert() {
    local dir=${1:?kw_issue_cert DIR PUBKEY_PEM SUBJECT OUT_PEM} pub=${2:?PUBKEY_PEM}
    local subj=${3:?SUBJECT} out=${4:?OUT_PEM}
    _kw_need openssl || return 1
    _kw_client_ext "$dir" || return 1
    if ! openssl pkey -pubin -in "$pub" -noout 2>/dev/null; then
        _kw_err "kw_issue_cert: $pub is not a PEM public key (BEGIN PUBLIC KEY)"
        return 1
    fi
    if ! openssl x509 -new -force_pubkey "$pub" -subj "$subj" -CA "$dir/ca.pem" \
            -CAkey "$dir/ca.key" -set_serial "$(_kw_serial)" -sha256 -days 1 \
            -extfile "$dir/ca-ext.cnf" -extensions v3_client -out "$out" 2>"$out.err"; then
        _kw_err "kw_issue_cert: openssl x509 -new failed:"; cat "$out.err" >&2; rm -f "$out.err"
        return 1
    fi
    rm -f "$out.err"
    openssl verify -CAfile "$dir/ca.pem" -purpose sslclient "$out" >/dev/null ||
        { _kw_err "kw_issue_cert: issued certificate does not verify"; return 1; }
}

# kw_issue_cert_csr DIR CSR_PEM OUT_PEM  (subject taken from the CSR; CSR extensions ignored)
kw_issue_cert_csr() {
    local dir=${1:?kw_issue_cert_csr DIR CSR_PEM OUT_PEM} csr=${2:?CSR_PEM} out=${3:?OUT_PEM}
    _kw_need openssl || return 1
    _kw_client_ext "$dir" || return 1
    if ! openssl req -in "$csr" -noout -verify 2>/dev/null; then
        _kw_err "kw_issue_cert_csr: CSR $csr is unreadable or its signature does not verify"
        return 1
    fi
    if ! openssl x509 -req -in "$csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
            -set_serial "$(_kw_serial)" -sha256 -days 1 \
            -extfile "$dir/ca-ext.cnf" -extensions v3_client -out "$out" 2>"$out.err"; then
        _kw_err "kw_issue_cert_csr: openssl x509 -req failed:"; cat "$out.err" >&2; rm -f "$out.err"
        return 1
    fi
    rm -f "$out.err"
    openssl verify -CAfile "$dir/ca.pem" -purpose sslclient "$out" >/dev/null ||
        { _kw_err "kw_issue_cert_csr: issued certificate does not verify"; return 1; }
}

# ---------------------------------------------------------------- servers

_kw_stat() {
    # print "STATE STARTTIME" of PID from /proc/PID/stat (fields 3 and 22)
    local line f=()
    read -r line 2>/dev/null < "/proc/$1/stat" || return 1
    read -r -a f <<< "${line##*) }"      # f[0] = field 3 (state), f[19] = field 22 (starttime)
    printf '%s %s\n' "${f[0]:-}" "${f[19]:-}"
}

_kw_alive() {
    # running and not a zombie; with START: also still the process started at START
    local pid=$1 start=${2:-} st
    st=$(_kw_stat "$pid") || return 1
    case ${st%% *} in Z | X | x) return 1 ;; esac
    [ -z "$start" ] || [ "${st#* }" = "$start" ]
}

_kw_listening_pid() {
    # true if PID listens on 127.0.0.1:PORT (or 0.0.0.0 / dual-stack *). Without ss: the port
    # accepts connections. (gnutls-serv keeps running on [::] only if 0.0.0.0 is taken.)
    local pid=$1 port=$2 line local_addr
    if command -v ss >/dev/null 2>&1; then
        local -a f
        while IFS= read -r line; do
            read -r -a f <<< "$line"             # State Recv-Q Send-Q Local Peer [users]
            local_addr=${f[3]:-}
            case $local_addr in
                "127.0.0.1:$port" | "0.0.0.0:$port" | "*:$port" | "[::ffff:127.0.0.1]:$port") ;;
                *) continue ;;
            esac
            case $line in
                *"pid=$pid,"*) return 0 ;;
                *users:*) ;;                     # another process
                *) return 0 ;;                   # no process info shown: accept
            esac
        done < <(ss -Hltnp "sport = :$port" 2>/dev/null)
        return 1
    else
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
    fi
}

_kw_srvdir() { printf '%s/srv-%s\n' "$1" "$2"; }

_kw_check_kind() {
    case $1 in
        openssl | gnutls | nginx | mbedtls | mosquitto) return 0 ;;
        *) _kw_err "unknown server kind '$1' (openssl gnutls nginx mbedtls mosquitto)"; return 1 ;;
    esac
}

_kw_write_nginx_conf() {
    local sd=$1 dir=$2 port=$3 tlsver=$4
    shift 4
    local protos="TLSv1.2 TLSv1.3" extra=""
    case $tlsver in
        1.2) protos="TLSv1.2" ;;
        1.3) protos="TLSv1.3" ;;
    esac
    local d
    for d in "$@"; do extra+="        $d"$'\n'; done
    mkdir -p "$sd/client_body" "$sd/proxy" "$sd/fastcgi" "$sd/uwsgi" "$sd/scgi"
    cat > "$sd/nginx.conf" <<EOF
# generated by keyward tests/tls/lib.sh
worker_processes 1;
daemon off;
master_process on;
pid "$sd/nginx.pid";
error_log "$sd/error.log" info;
events { worker_connections 64; }
http {
    access_log "$sd/access.log";
    client_body_temp_path "$sd/client_body";
    proxy_temp_path "$sd/proxy";
    fastcgi_temp_path "$sd/fastcgi";
    uwsgi_temp_path "$sd/uwsgi";
    scgi_temp_path "$sd/scgi";
    server {
        listen 127.0.0.1:$port ssl;
        server_name localhost;
        ssl_certificate "$dir/server.pem";
        ssl_certificate_key "$dir/server.key";
        ssl_client_certificate "$dir/ca.pem";
        ssl_verify_client on;
        ssl_verify_depth 3;
        ssl_protocols $protos;
        ssl_session_tickets off;
        # close after every response, also for HTTP/1.1 clients that read until EOF
        keepalive_timeout 0;
$extra        location / {
            default_type text/plain;
            return 200 "keyward nginx test server\nsubject=\$ssl_client_s_dn\nissuer=\$ssl_client_i_dn\nverify=\$ssl_client_verify\nprotocol=\$ssl_protocol\ncipher=\$ssl_cipher\n";
        }
    }
}
EOF
}

_kw_write_mosquitto_conf() {
    local sd=$1 dir=$2 port=$3 tlsver=$4
    shift 4
    local d
    {
        printf '# generated by keyward tests/tls/lib.sh\n'
        # stay root when started as root (the key files are 0600); no effect otherwise
        printf 'user root\npersistence false\nlog_dest stdout\nlog_type all\n'
        printf 'listener %s 127.0.0.1\n' "$port"
        printf 'cafile %s\ncertfile %s\nkeyfile %s\n' "$dir/ca.pem" "$dir/server.pem" "$dir/server.key"
        printf 'require_certificate true\nuse_identity_as_username true\n'
        # tls_version is a minimum in mosquitto 2.x (the maximum for 1.2: $sd/openssl.cnf)
        case $tlsver in
            1.2) printf 'tls_version tlsv1.2\n' ;;
            1.3) printf 'tls_version tlsv1.3\n' ;;
        esac
        for d in "$@"; do printf '%s\n' "$d"; done
    } > "$sd/mosquitto.conf"
    # OpenSSL's own configuration caps the protocol: mosquitto has no maximum-version option
    cat > "$sd/openssl.cnf" <<EOF
openssl_conf = openssl_init
[openssl_init]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
MaxProtocol = TLSv1.$([ "$tlsver" = 1.2 ] && echo 2 || echo 3)
EOF
}

# kw_start_server KIND DIR PORT [TLSVER [EXTRA...]]
#   TLSVER: "" (TLS 1.2 and 1.3), "1.2" or "1.3" (only that version).
#   EXTRA: extra command-line arguments (openssl, gnutls, mbedtls; appended last, so they can
#          override, e.g. debug_level=3 for ssl_server2) or extra nginx directives inserted in
#          the server{} block (each argument one directive, ';' included), or extra
#          mosquitto.conf lines (one per argument).
#   Waits up to KW_SERVER_TIMEOUT (10) s until the server process itself listens on
#   127.0.0.1:PORT (or 0.0.0.0:PORT); on failure prints the server's log and returns 1.
#   Sets KW_SERVER_LOG to the log file. Also starts a watchdog that kills the server if this
#   shell dies without running its trap.
kw_start_server() {
    local kind=${1:?kw_start_server KIND DIR PORT [TLSVER]} dir=${2:?DIR} port=${3:?PORT}
    local tlsver=${4:-}
    shift 3; [ $# -gt 0 ] && shift
    _kw_not_in_subshell kw_start_server || return 1
    _kw_install_trap
    _kw_check_kind "$kind" || return 1
    case $tlsver in
        "" | 1.2 | 1.3) ;;
        *) _kw_err "kw_start_server: TLSVER must be empty, 1.2 or 1.3 (got '$tlsver')"; return 1 ;;
    esac
    case $port in
        '' | *[!0-9]*) _kw_err "kw_start_server: bad port '$port'"; return 1 ;;
    esac
    local f
    for f in ca.pem server.pem server.key; do
        [ -r "$dir/$f" ] || { _kw_err "kw_start_server: $dir/$f missing (run kw_make_ca)"; return 1; }
    done
    dir=$(cd -- "$dir" && pwd) || return 1

    local sd; sd=$(_kw_srvdir "$dir" "$kind")
    if [ -f "$sd/pid" ] && _kw_alive "$(cat "$sd/pid")"; then
        _kw_err "kw_start_server: a $kind server for $dir is already running (pid $(cat "$sd/pid"))"
        return 1
    fi
    if _kw_port_listening "$port"; then
        _kw_err "kw_start_server: port $port is already in use:"
        command -v ss >/dev/null 2>&1 && ss -Hltnp "sport = :$port" >&2
        return 1
    fi
    rm -rf -- "$sd"; mkdir -p -- "$sd" || return 1
    local log="$sd/server.log"
    local -a cmd=()
    local buf=()
    command -v stdbuf >/dev/null 2>&1 && buf=(stdbuf -oL -eL)

    case $kind in
    openssl)
        _kw_need openssl || return 1
        cmd=(openssl s_server -accept "127.0.0.1:$port" -cert "$dir/server.pem"
             -key "$dir/server.key" -CAfile "$dir/ca.pem" -Verify 3 -verify_return_error
             -www -no_cache)
        case $tlsver in
            1.2) cmd+=(-tls1_2) ;;
            1.3) cmd+=(-tls1_3) ;;
        esac
        ;;
    gnutls)
        _kw_need gnutls-serv || return 1
        # --require-client-cert alone does NOT verify the chain: --verify-client-cert is needed.
        # gnutls-serv has no listen-address option: it binds 0.0.0.0 and [::].
        cmd=(gnutls-serv --http -p "$port" --x509cafile "$dir/ca.pem"
             --x509certfile "$dir/server.pem" --x509keyfile "$dir/server.key"
             --require-client-cert --verify-client-cert --nodb)
        case $tlsver in
            1.2) cmd+=(--priority "NORMAL:-VERS-ALL:+VERS-TLS1.2") ;;
            1.3) cmd+=(--priority "NORMAL:-VERS-ALL:+VERS-TLS1.3") ;;
        esac
        ;;
    nginx)
        _kw_need nginx || return 1
        _kw_write_nginx_conf "$sd" "$dir" "$port" "$tlsver" "$@" || return 1
        set --   # extra args went into the config
        cmd=(nginx -p "$sd/" -c "$sd/nginx.conf" -e "$sd/error.log")
        if ! "${cmd[@]}" -t -q >"$sd/configtest.log" 2>&1; then
            _kw_err "kw_start_server: nginx -t rejected $sd/nginx.conf:"
            cat "$sd/configtest.log" >&2
            return 1
        fi
        ;;
    mosquitto)
        _kw_need mosquitto || return 1
        _kw_write_mosquitto_conf "$sd" "$dir" "$port" "$tlsver" "$@" || return 1
        set --   # extra args went into the config
        cmd=(env "OPENSSL_CONF=$sd/openssl.cnf" mosquitto -c "$sd/mosquitto.conf")
        ;;
    mbedtls)
        if [ -z "${KW_SSL_SERVER2:-}" ]; then
            _kw_err "kw_start_server mbedtls: KW_SSL_SERVER2 is not set (path of Mbed TLS's programs/ssl/ssl_server2)"
            return 1
        fi
        if [ ! -x "$KW_SSL_SERVER2" ]; then
            _kw_err "kw_start_server mbedtls: KW_SSL_SERVER2=$KW_SSL_SERVER2 is not an executable"
            return 1
        fi
        # ssl_server2 loops over connections forever (exchanges=1 is per connection) and prints
        # the verified peer certificate ("subject name : ...") on stdout.
        cmd=("$KW_SSL_SERVER2" "server_port=$port" server_addr=127.0.0.1
             "ca_file=$dir/ca.pem" "crt_file=$dir/server.pem" "key_file=$dir/server.key"
             auth_mode=required)
        case $tlsver in
            1.2) cmd+=(force_version=tls12) ;;
            1.3) cmd+=(force_version=tls13) ;;
        esac
        ;;
    esac
    cmd+=("$@")

    printf '%s\n' "${cmd[*]}" > "$sd/cmdline"
    printf '%s\n' "$port" > "$sd/port"
    printf '0\n' > "$sd/mark"
    # nginx runs in the foreground (daemon off) so $! is its master process.
    "${buf[@]}" "${cmd[@]}" </dev/null >"$log" 2>&1 &
    local pid=$! start
    start=$(_kw_stat "$pid") && start=${start#* } || start=""
    printf '%s\n' "$pid" > "$sd/pid"
    KW_SERVER_PIDS+=("$pid")
    KW_SERVER_DIRS+=("$sd")
    KW_SERVER_STARTS+=("$start")
    _kw_watchdog "$pid" "$start"
    KW_SERVER_DOGS+=("$_KW_DOG")

    local timeout=${KW_SERVER_TIMEOUT:-10} waited=0
    while :; do
        if ! _kw_alive "$pid"; then
            local rc=0
            wait "$pid" 2>/dev/null || rc=$?
            _kw_err "kw_start_server: $kind server exited early (exit code $rc); command: ${cmd[*]}"
            _kw_dump_log "$kind" "$sd"
            return 1
        fi
        if _kw_listening_pid "$pid" "$port"; then
            break
        fi
        if [ "$waited" -ge $((timeout * 10)) ]; then
            _kw_err "kw_start_server: $kind server did not listen on port $port within ${timeout}s; command: ${cmd[*]}"
            _kw_dump_log "$kind" "$sd"
            kw_stop_server "$kind" "$dir"
            return 1
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
    # shellcheck disable=SC2034  # for the caller
    KW_SERVER_LOG=$log
    return 0
}

# _kw_watchdog PID START : background subshell that kills the server PID if the test shell
# disappears without running its trap (SIGKILL, timeout -s KILL). Sets _KW_DOG to its pid.
_kw_watchdog() {
    local pid=$1 start=$2 main=$$ mainstart
    mainstart=$(_kw_stat "$main") && mainstart=${mainstart#* } || mainstart=""
    (
        trap - EXIT INT TERM
        while _kw_alive "$main" "$mainstart"; do
            _kw_alive "$pid" "$start" || exit 0
            sleep 1
        done
        _kw_kill_tree "$pid" "$start"
    ) </dev/null >/dev/null 2>&1 &
    _KW_DOG=$!
}

_kw_dump_log() {
    local kind=$1 sd=$2 f
    for f in "$sd/server.log" "$sd/error.log"; do
        [ -s "$f" ] || continue
        printf -- '----- %s (%s) -----\n' "$f" "$kind" >&2
        tail -n 60 "$f" >&2
        printf -- '-----\n' >&2
    done
}

# kw_server_log KIND DIR : print the log file path
kw_server_log() {
    local kind=${1:?KIND} dir=${2:?DIR}
    printf '%s/server.log\n' "$(_kw_srvdir "$dir" "$kind")"
}

# kw_server_mark KIND DIR : later kw_server_saw_subject calls only look at log lines written after now
kw_server_mark() {
    local kind=${1:?KIND} dir=${2:?DIR} sd size=0
    sd=$(_kw_srvdir "$dir" "$kind")
    [ -d "$sd" ] || { _kw_err "kw_server_mark: no $kind server in $dir"; return 1; }
    [ -f "$sd/server.log" ] && size=$(wc -c < "$sd/server.log")
    printf '%s\n' "$((size))" > "$sd/mark"
}

_kw_subject_cn() {
    # extract the CN value from "/CN=x/O=y" or "CN=x, O=y" / "O=y,CN=x"
    local s=$1 part sep=, parts=()
    [ "${s#/}" != "$s" ] && sep=/
    IFS=$sep read -r -a parts <<< "$s"
    for part in "${parts[@]}"; do
        part=${part#"${part%%[![:space:]]*}"}
        case $part in
            CN=* | cn=* | commonName=*) printf '%s\n' "${part#*=}"; return 0 ;;
        esac
    done
    return 1
}

# awk program: given lines that are subject lines, succeed if one holds CN=<cn> as a whole RDN
_KW_AWK_CN='
function has_cn(line, cn,    s, i, pre, nxt, pat) {
    sub(/[ \t\r]+$/, "", line)
    pat = "CN=" cn
    s = line
    while ((i = index(s, pat)) > 0) {
        pre = (i == 1) ? "" : substr(s, i - 1, 1)
        nxt = substr(s, i + length(pat), 1)
        if ((pre == "" || pre ~ /[ \t,\/=:+;]/) && (nxt == "" || nxt ~ /[,\/+;<]/))
            return 1
        s = substr(s, i + 1)
    }
    return 0
}
'

# kw_server_saw_subject KIND DIR SUBJECT [BODY_FILE]
#   openssl/gnutls/nginx: BODY_FILE (the HTTP response the client printed) must contain the
#       client certificate's subject line with SUBJECT's CN:
#         openssl "Subject: CN=..., O=..." (after "Client certificate"), gnutls "Subject: O=...,CN=...",
#         nginx "subject=O=...,CN=...".
#   mbedtls: the server log (since kw_start_server or the last kw_server_mark) must show a
#       peer certificate that verified ok and whose "subject name" holds SUBJECT's CN.
#   Only the CN is compared (the servers print the DN in different orders and formats).
kw_server_saw_subject() {
    local kind=${1:?kw_server_saw_subject KIND DIR SUBJECT [BODY_FILE]} dir=${2:?DIR}
    local subject=${3:?SUBJECT} body=${4:-} cn sd
    _kw_check_kind "$kind" || return 1
    cn=$(_kw_subject_cn "$subject") || { _kw_err "kw_server_saw_subject: no CN in '$subject'"; return 1; }
    sd=$(_kw_srvdir "$dir" "$kind")
    case $kind in
    mosquitto)
        _kw_err "kw_server_saw_subject: not available for mosquitto"
        return 1
        ;;
    openssl | gnutls | nginx)
        if [ -z "$body" ]; then
            _kw_err "kw_server_saw_subject $kind: BODY_FILE is required"
            return 1
        fi
        [ -r "$body" ] || { _kw_err "kw_server_saw_subject: cannot read $body"; return 1; }
        KW_CN=$cn awk -v kind="$kind" "$_KW_AWK_CN"'
            BEGIN { cn = ENVIRON["KW_CN"]; found = 0; client = 0 }
            kind == "openssl" && /^Client certificate/ { client = 1 }
            kind == "openssl" && client && /^[ \t]*Subject: / { if (has_cn($0, cn)) found = 1 }
            kind == "gnutls" && /^[ \t]*Subject: / { if (has_cn($0, cn)) found = 1 }
            kind == "nginx" && /^subject=/ { if (has_cn($0, cn)) found = 1 }
            END { exit(found ? 0 : 1) }' "$body"
        ;;
    mbedtls)
        local log="$sd/server.log" mark=0
        [ -r "$log" ] || { _kw_err "kw_server_saw_subject: no mbedtls server log in $sd"; return 1; }
        [ -r "$sd/mark" ] && mark=$(cat "$sd/mark")
        tail -c "+$((mark + 1))" "$log" | KW_CN=$cn awk "$_KW_AWK_CN"'
            BEGIN { cn = ENVIRON["KW_CN"]; found = 0; ok = 0 }
            /Waiting for a remote connection/ { ok = 0 }
            /Verifying peer X.509 certificate\.\.\. ok/ { ok = 1 }
            /Verifying peer X.509 certificate\.\.\. failed/ { ok = 0 }
            /^[ \t]*subject name[ \t]*: / { if (ok && has_cn($0, cn)) found = 1 }
            END { exit(found ? 0 : 1) }'
        ;;
    esac
}

# kw_stop_server KIND DIR : stop the KIND server started for DIR (no-op if none)
kw_stop_server() {
    local kind=${1:?KIND} dir=${2:?DIR} sd i found=""
    sd=$(_kw_srvdir "$dir" "$kind")
    [ -r "$sd/pid" ] || return 0
    sd=$(cd -- "$sd" && pwd) || return 0
    for i in "${!KW_SERVER_PIDS[@]}"; do
        if [ "${KW_SERVER_DIRS[$i]}" = "$sd" ]; then
            _kw_kill_tree "${KW_SERVER_PIDS[$i]}" "${KW_SERVER_STARTS[$i]:-}"
            _kw_kill_tree "${KW_SERVER_DOGS[$i]:-}"
            unset 'KW_SERVER_PIDS[i]' 'KW_SERVER_DIRS[i]' 'KW_SERVER_STARTS[i]' 'KW_SERVER_DOGS[i]'
            found=1
        fi
    done
    [ -n "$found" ] || _kw_err "kw_stop_server: $kind server of $dir was not started by this shell; not killing pid $(cat "$sd/pid")"
    rm -f -- "$sd/pid"
    return 0
}

# _kw_kill_tree PID [STARTTIME] : TERM (then KILL after 5 s) PID and its direct children
_kw_kill_tree() {
    local pid=$1 start=${2:-} kids="" i
    [ -n "$pid" ] || return 0
    if ! _kw_alive "$pid" "$start"; then
        wait "$pid" 2>/dev/null || true
        return 0
    fi
    # note the children (nginx workers) while the parent is still there
    if command -v pgrep >/dev/null 2>&1; then
        kids=$(pgrep -P "$pid" 2>/dev/null | tr '\n' ' ') || kids=""
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        _kw_alive "$pid" "$start" || break
        sleep 0.1
    done
    if _kw_alive "$pid" "$start"; then
        kill -KILL "$pid" 2>/dev/null || true
    fi
    for i in $kids; do
        if _kw_alive "$i"; then
            kill -KILL "$i" 2>/dev/null || true
        fi
    done
    wait "$pid" 2>/dev/null || true
    return 0
}

# kw_stop_servers : stop every server started by kw_start_server (also run by the trap)
kw_stop_servers() {
    local i
    for i in "${!KW_SERVER_PIDS[@]}"; do
        _kw_kill_tree "${KW_SERVER_PIDS[$i]}" "${KW_SERVER_STARTS[$i]:-}"
        _kw_kill_tree "${KW_SERVER_DOGS[$i]:-}"
        rm -f -- "${KW_SERVER_DIRS[$i]}/pid"
    done
    KW_SERVER_PIDS=()
    KW_SERVER_DIRS=()
    KW_SERVER_STARTS=()
    KW_SERVER_DOGS=()
    return 0
}
