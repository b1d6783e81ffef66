#!/usr/bin/env bash
# examples/mqtt-publish (issue 9), built only against an installed keyward (a temp prefix,
# find_package(keyward)), publishes one message through a mosquitto broker that it starts
# (require_certificate true, use_identity_as_username true):
#  - with a SoftHSM2 key and the certificate kept in the token (PKCS#11 type=cert object);
#  - with an ATECC608 (emulator) key and the certificate from a file (keyward keeps no
#    certificate in that chip);
# each time a mosquitto_sub with a software client certificate receives the message, and the
# broker's log names the device's certificate identity (its CN) as the user name.  A device
# whose certificate is not its key's is refused before connecting.
set -u
. "$KW_SOURCE_DIR/tests/tls/lib.sh"
. "$KW_SOURCE_DIR/tests/support/softhsm_env.sh"
for t in mosquitto mosquitto_sub; do
    command -v "$t" >/dev/null || { echo "FAIL $t is not installed (scripts/install-deps.sh)"; exit 1; }
done

kw_test_start install.mqtt_publish
kw_tmpdir T || exit 1
P=$T/prefix
cmake --install "$KW_BUILD_DIR" --prefix "$P" >"$T/install.log" 2>&1 ||
    { bad "cmake --install"; cat "$T/install.log"; exit 1; }
if cmake -S "$KW_SOURCE_DIR/examples/mqtt-publish" -B "$T/b" -DCMAKE_PREFIX_PATH="$P" >"$T/build.log" 2>&1 &&
    cmake --build "$T/b" >>"$T/build.log" 2>&1; then
    ok "examples/mqtt-publish built against the installed package"
else
    bad "build examples/mqtt-publish"; sed 's/^/#    /' "$T/build.log"; exit 1
fi
PUB=$T/b/mqtt-publish
KW_TOOL=$P/bin/keyward-tool
KW_EMU=$P/bin/keyward-atecc608-emu
. "$KW_SOURCE_DIR/tests/support/emu.sh"

kw_make_ca "$T" || exit 1
# The subscriber: a software key and certificate.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/sub.key" 2>/dev/null &&
    openssl pkey -in "$T/sub.key" -pubout -out "$T/sub.pub" &&
    kw_issue_cert "$T" "$T/sub.pub" "/CN=kw-subscriber/O=keyward tests" "$T/sub.pem" || exit 1

# Device 1: SoftHSM2 key, its certificate written into the token next to it.
kw_softhsm_setup "$T/hsm" dev:EC:prime256v1 other:EC:prime256v1 || exit 1
P11_KEY=$(kw_p11_uri dev)
"$KW_TOOL" pubkey "$P11_KEY" >"$T/dev.pub" || exit 1
kw_issue_cert "$T" "$T/dev.pub" "/CN=kw-device-pkcs11/O=keyward tests" "$T/dev.pem" || exit 1
openssl x509 -in "$T/dev.pem" -outform DER -out "$T/dev.der" &&
    "$KW_TOOL" cert-store "pkcs11:token=$KW_P11_TOKEN;object=dev-cert;id=%61;type=cert?module-path=$KW_P11_MODULE&pin-value=$KW_P11_PIN" "$T/dev.der" ||
    { bad "keyward-tool cert-store"; exit 1; }
P11_CERT="pkcs11:token=$KW_P11_TOKEN;object=dev-cert;type=cert?module-path=$KW_P11_MODULE&pin-value=$KW_P11_PIN"

# Device 2: the ATECC608 emulator, slot 0 key generated in the chip, certificate from its CSR.
emu_start "$T" --time-scale 1 || exit 1
emu_provision "CN=kw-device-atecc608,O=keyward tests" "$T" || { bad "ATECC608 provisioning"; exit 1; }
kw_issue_cert_csr "$T" "$T/csr.pem" "$T/atecc.pem" || exit 1
ATECC_KEY="atecc608:slot=0;bus=$EMU_BUS"

# What each identity offers (keyward_tls_identity_open via the installed keyward-tool): the
# ATECC608 signs SHA-256 only, so its identity leaves the TLS 1.2 SHA-384 suites out.
out=$("$KW_TOOL" check-identity "$T/atecc.pem" "$ATECC_KEY" 2>&1)
[[ $out == "identity ok: CN=kw-device-atecc608"*"SHA-384 TLS 1.2 suites left out"* ]] &&
    ok "atecc608 identity: $out" || bad "atecc608 identity: $out"
out=$("$KW_TOOL" check-identity "$P11_CERT" "$P11_KEY" 2>&1)
[[ $out == "identity ok: CN=kw-device-pkcs11"*"all cipher suites" ]] &&
    ok "pkcs11 identity: $out" || bad "pkcs11 identity: $out"

port=$(kw_free_port) || exit 1
kw_start_server mosquitto "$T" "$port" || exit 1
LOG=$KW_SERVER_LOG

# publish NAME CERTREF KEYREF CN: one message through the broker, received by mosquitto_sub.
publish() {
    local name=$1 cert=$2 key=$3 cn=$4 topic="keyward/test/$1" msg="hello from $1 $$"
    local subid="kw-sub-$1-$$" i
    mosquitto_sub -h localhost -p "$port" --cafile "$T/ca.pem" --cert "$T/sub.pem" --key "$T/sub.key" \
        -i "$subid" -t "$topic" -q 1 -C 1 -W 30 >"$T/$name.sub" 2>"$T/$name.suberr" &
    local sub=$!
    # Wait on the broker's state: the subscription is in its log.
    for ((i = 0; i < 200; i++)); do
        grep -q "Received SUBSCRIBE from $subid" "$LOG" && break
        kill -0 "$sub" 2>/dev/null || break
        sleep 0.05
    done
    if ! grep -q "Received SUBSCRIBE from $subid" "$LOG"; then
        bad "$name: the subscriber did not subscribe"; sed 's/^/#    /' "$T/$name.suberr"
        kill "$sub" 2>/dev/null; wait "$sub" 2>/dev/null; return
    fi
    if "$PUB" "$T/ca.pem" "$cert" "$key" localhost "$port" "$topic" "$msg" >"$T/$name.out" 2>"$T/$name.err"; then
        :
    else
        bad "$name: mqtt-publish exit $?"; sed 's/^/#    /' "$T/$name.err"
    fi
    wait "$sub"
    if [ "$(cat "$T/$name.sub")" = "$msg" ]; then
        ok "$name: mosquitto_sub received '$msg' ($(head -1 "$T/$name.err" | sed 's/^mqtt-publish: //'))"
    else
        bad "$name: mosquitto_sub got '$(cat "$T/$name.sub")'"; sed 's/^/#    /' "$T/$name.suberr" "$T/$name.err"
    fi
    if grep -q "New client connected from .* as keyward-mqtt-publish-[0-9]* (.*u'$cn')" "$LOG"; then
        ok "$name: the broker logged the device identity as user name: $(grep -o "as keyward-mqtt-publish-[0-9]* (.*u'$cn')" "$LOG" | tail -1)"
    else
        bad "$name: no 'u'$cn'' in the broker log"; grep "New client" "$LOG" | sed 's/^/#    /'
    fi
}

publish pkcs11 "$P11_CERT" "$P11_KEY" kw-device-pkcs11
before=$(emu_stat cmd_sign)
publish atecc608 "$T/atecc.pem" "$ATECC_KEY" kw-device-atecc608
after=$(emu_stat cmd_sign)
[ "$after" -gt "$before" ] && ok "atecc608: the chip signed ($before -> $after Sign commands)" ||
    bad "atecc608: the emulator counted no Sign command ($before -> $after)"

# The token's certificate with another key: refused before any connection.
if out=$("$PUB" "$T/ca.pem" "$P11_CERT" "$(kw_p11_uri other)" localhost "$port" t m 2>&1); then
    bad "another key: exit 0"
elif [[ $out == *"device identity: the certificate's public key is not the key's public key"* ]] &&
    [[ $out != *"pin-value=$KW_P11_PIN"* ]]; then
    ok "another key: refused: $out"
else
    bad "another key: $out"
fi
kw_test_done install.mqtt_publish
