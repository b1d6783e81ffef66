#!/usr/bin/env python3
"""Hook keyward into Mbed TLS 3.6's generated PSA driver wrappers.

Mbed TLS 3.6 dispatches opaque-key operations through a `switch (location)`
in each wrapper of library/psa_crypto_driver_wrappers.h and
library/psa_crypto_driver_wrappers_no_static.c, and only a few of those are
generated from JSON driver descriptions.  This script inserts keyward's
location cases into every wrapper whose entry point keyward implements,
exactly once, in place.  It refuses (exit status 2, naming the anchor) a tree
that does not have the expected shape, so that a version drift stops the
build instead of silently leaving keyward out.

Usage: hook_driver_wrappers.py MBEDTLS_SOURCE_TREE
"""
import re
import sys
from pathlib import Path

MARK = "keyward-hook"
GUARD = "KEYWARD_PSA_DRIVER"
INCLUDE_ANCHOR = '#include "psa_crypto_core.h"\n'
INCLUDE_BLOCK = (
    "#if defined(%s) /* %s */\n"
    '#include "keyward/psa_driver.h"\n'
    "#endif\n" % (GUARD, MARK)
)

# wrapper name -> statement(s) run for a keyward location.
ENTRY_POINTS = {
    "psa_crypto_driver_wrappers.h": {
        "sign_hash": "return( keyward_psa_sign_hash( attributes, key_buffer, key_buffer_size, "
                     "alg, hash, hash_length, signature, signature_size, signature_length ) );",
        "verify_hash": "return( keyward_psa_verify_hash( attributes, key_buffer, key_buffer_size, "
                       "alg, hash, hash_length, signature, signature_length ) );",
        "get_key_buffer_size_from_key_data":
            "*key_buffer_size = keyward_psa_get_key_buffer_size_from_key_data( attributes, data, data_length );\n"
            "            return( *key_buffer_size != 0 ? PSA_SUCCESS : PSA_ERROR_NOT_SUPPORTED );",
        "generate_key": "return( keyward_psa_generate_key( attributes, key_buffer, key_buffer_size, "
                        "key_buffer_length ) );",
        "import_key": "return( keyward_psa_import_key( attributes, data, data_length, key_buffer, "
                      "key_buffer_size, key_buffer_length, bits ) );",
        "export_key": "return( keyward_psa_export_key( attributes, key_buffer, key_buffer_size, "
                      "data, data_size, data_length ) );",
    },
    "psa_crypto_driver_wrappers_no_static.c": {
        "get_key_buffer_size":
            "*key_buffer_size = keyward_psa_get_key_buffer_size( attributes );\n"
            "            return( *key_buffer_size != 0 ? PSA_SUCCESS : PSA_ERROR_NOT_SUPPORTED );",
        "export_public_key": "return( keyward_psa_export_public_key( attributes, key_buffer, "
                             "key_buffer_size, data, data_size, data_length ) );",
        "get_builtin_key": "return( keyward_psa_get_builtin_key( slot_number, attributes, key_buffer, "
                           "key_buffer_size, key_buffer_length ) );",
    },
}


class HookError(Exception):
    pass


def function_body(text, name, fname):
    """Return (start, end) of the body of wrapper psa_driver_wrapper_<name>."""
    m = re.search(r"\npsa_status_t psa_driver_wrapper_%s\(|\nstatic inline psa_status_t "
                  r"psa_driver_wrapper_%s\(" % (name, name), text)
    if not m:
        raise HookError("%s: anchor 'psa_driver_wrapper_%s(' not found" % (fname, name))
    brace = text.find("\n{", m.end())
    if brace < 0:
        raise HookError("%s: body of psa_driver_wrapper_%s not found" % (fname, name))
    end = text.find("\n}\n", brace)
    if end < 0:
        raise HookError("%s: end of psa_driver_wrapper_%s not found" % (fname, name))
    return brace, end


def hook_function(text, name, stmt, fname):
    start, end = function_body(text, name, fname)
    body = text[start:end]
    tag = "/* %s: %s */" % (MARK, name)
    if tag in body:
        return text  # already hooked: running twice changes nothing
    sw = re.search(r"switch\s*\(\s*location\s*\)", body)
    if not sw:
        raise HookError("%s: anchor 'switch( location )' not found in psa_driver_wrapper_%s"
                        % (fname, name))
    dm = re.compile(r"\n([ \t]*)default:").search(body, sw.end())
    if not dm:
        raise HookError("%s: anchor 'default:' of the location switch not found in "
                        "psa_driver_wrapper_%s" % (fname, name))
    block = ("\n#if defined(%s) %s\n"
             "        KEYWARD_PSA_LOCATION_CASES\n"
             "            %s\n"
             "#endif\n" % (GUARD, tag, stmt))
    pos = start + dm.start()
    return text[:pos] + block.rstrip("\n") + text[pos:]


def hook_file(path, entries):
    text = path.read_text()
    new = text
    if INCLUDE_BLOCK not in new:
        if INCLUDE_ANCHOR not in new:
            raise HookError("%s: anchor %r not found" % (path.name, INCLUDE_ANCHOR.strip()))
        new = new.replace(INCLUDE_ANCHOR, INCLUDE_ANCHOR + INCLUDE_BLOCK, 1)
    for name, stmt in entries.items():
        new = hook_function(new, name, stmt, path.name)
    return text, new


def main(argv):
    if len(argv) != 2:
        print("usage: hook_driver_wrappers.py MBEDTLS_SOURCE_TREE", file=sys.stderr)
        return 2
    lib = Path(argv[1]) / "library"
    results = []
    try:
        # Check every file before writing any, so a failure leaves the tree untouched.
        for fname, entries in ENTRY_POINTS.items():
            path = lib / fname
            if not path.is_file():
                raise HookError("%s not found (is %s an Mbed TLS 3.6 tree?)" % (path, argv[1]))
            results.append((path,) + hook_file(path, entries))
    except HookError as e:
        print("keyward hook: %s -- the Mbed TLS tree does not look like 3.6.x; "
              "keyward was NOT hooked in" % e, file=sys.stderr)
        return 2
    changed = 0
    for path, old, new in results:
        if new != old:
            path.write_text(new)
            changed += 1
    print("keyward hook: %d file(s) changed, %d already hooked" % (changed, len(results) - changed))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
