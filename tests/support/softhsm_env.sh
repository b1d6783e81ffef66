# Sourced by tests: a private SoftHSM2 token in a temp dir, with fixture keys
# made by OpenSC's pkcs11-tool (not by keyward, so keyward reads keys made by
# another tool).  Sets KW_P11_MODULE, KW_P11_TOKEN, KW_P11_PIN, KW_P11_DIR,
# SOFTHSM2_CONF; kw_p11_uri LABEL prints the KEYREF of a key.
# Usage: kw_softhsm_setup DIR [LABEL:TYPE ...]   (TYPE as pkcs11-tool --key-type)
KW_P11_MODULE=${KW_P11_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
kw_softhsm_setup() {
    local dir=$1; shift
    KW_P11_DIR=$dir
    KW_P11_TOKEN=kwtest
    KW_P11_PIN=${KW_P11_PIN_SET:-1234}
    mkdir -p "$dir/tokens"
    printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$dir" > "$dir/softhsm2.conf"
    export SOFTHSM2_CONF="$dir/softhsm2.conf"
    softhsm2-util --init-token --free --label "$KW_P11_TOKEN" --pin "$KW_P11_PIN" --so-pin 4321 >/dev/null || return 1
    local i=1 spec label type
    for spec in "$@"; do
        label=${spec%%:*}; type=${spec#*:}
        pkcs11-tool --module "$KW_P11_MODULE" --token-label "$KW_P11_TOKEN" --login --pin "$KW_P11_PIN" \
            --keypairgen --key-type "$type" --label "$label" --id "$(printf '%02x' $i)" >/dev/null 2>&1 \
            || { echo "pkcs11-tool could not make $label ($type)" >&2; return 1; }
        i=$((i+1))
    done
}
kw_p11_uri() {
    printf 'pkcs11:token=%s;object=%s?module-path=%s&pin-value=%s' "$KW_P11_TOKEN" "$1" "$KW_P11_MODULE" "$KW_P11_PIN"
}
