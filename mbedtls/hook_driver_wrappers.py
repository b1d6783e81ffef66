#!/usr/bin/env python3
"""Hook keyward into Mbed TLS's PSA driver wrappers (3.6 LTS and 4.x).

Both lines dispatch opaque-key operations through a `switch (location)` in
each wrapper of psa_crypto_driver_wrappers.h and
psa_crypto_driver_wrappers_no_static.c, and only a few of those are generated
from JSON driver descriptions.  This script inserts keyward's location cases
into every wrapper whose entry point keyward implements, exactly once, in
place, in a private copy of the tree:

  3.6.x  the release ships the generated files: library/psa_crypto_driver_wrappers.h
         and library/psa_crypto_driver_wrappers_no_static.c are hooked.
  4.x    TF-PSA-Crypto generates them at build time from Jinja templates:
         tf-psa-crypto/scripts/data_files/driver_templates/*.jinja are hooked.

Why the templates on 4.x, not the generated output: the output is made by a
custom command of the TF-PSA-Crypto subproject, in the build tree, at build
time, and remade whenever a template or the generator changes or the build
dir is cleaned.  Hooking the output would need a step wedged between that
generation and the compilation of psa_crypto.c, which CMake gives an outside
project no clean place for, and any regeneration would silently drop keyward.
Hooking the templates of the copy at configure time makes the hooked
template the only source: every generation carries the cases, and a missing
anchor stops the configure step before anything is built.  What Jinja makes
of it is checked too: `--verify-generated DIR` (run by the build just before
the crypto library is linked) refuses generated files that lack any case, so
no half-hooked library ever links.

The script is idempotent, checks every file before writing any, and refuses
(exit status 2, one line naming the file and the anchor) a tree that does not
have the expected shape, so a version drift stops the build instead of
silently leaving keyward out.

Usage: hook_driver_wrappers.py MBEDTLS_SOURCE_TREE
       hook_driver_wrappers.py --verify-generated DIR_WITH_GENERATED_WRAPPERS
"""
import re
import sys
from pathlib import Path

MARK = "keyward-hook"
GUARD = "KEYWARD_PSA_DRIVER"
INCLUDE_ANCHOR = '#include "psa_crypto_core.h"\n'
INCLUDE_BLOCK = (
    "#if defined(%s) /* %s */\n"
    '#include "keyward/port/psa_driver.h"\n'
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


LAYOUTS = (
    # (line, folder relative to the tree, suffix of the file names)
    ("3.6", "library", ""),
    ("4.x", "tf-psa-crypto/scripts/data_files/driver_templates", ".jinja"),
)


def layout_of(tree):
    """The (line, folder, suffix) whose hook targets the tree has."""
    for line, folder, suffix in LAYOUTS:
        if (tree / folder / ("psa_crypto_driver_wrappers.h" + suffix)).is_file():
            return line, tree / folder, suffix
    raise HookError("%s: neither library/psa_crypto_driver_wrappers.h (3.6) nor "
                    "tf-psa-crypto/scripts/data_files/driver_templates/"
                    "psa_crypto_driver_wrappers.h.jinja (4.x) found" % tree)


def hook_tree(tree):
    line, folder, suffix = layout_of(tree)
    results = []
    # Check every file before writing any, so a failure leaves the tree untouched.
    for fname, entries in ENTRY_POINTS.items():
        path = folder / (fname + suffix)
        if not path.is_file():
            raise HookError("%s not found (Mbed TLS %s layout)" % (path, line))
        results.append((path,) + hook_file(path, entries))
    changed = 0
    for path, old, new in results:
        if new != old:
            path.write_text(new)
            changed += 1
    print("keyward hook: Mbed TLS %s layout, %d file(s) changed, %d already hooked"
          % (line, changed, len(results) - changed))


def verify_generated(folder):
    """Every keyward case, once, in the generated wrappers of folder."""
    for fname, entries in ENTRY_POINTS.items():
        path = folder / fname
        if not path.is_file():
            raise HookError("generated %s not found" % path)
        text = path.read_text()
        if text.count(INCLUDE_BLOCK) != 1:
            raise HookError("generated %s lacks keyward's #include" % path)
        for name in entries:
            n = text.count("/* %s: %s */" % (MARK, name))
            if n != 1:
                raise HookError("generated %s has the keyward case for psa_driver_wrapper_%s "
                                "%d times (expected once)" % (path, name, n))
    print("keyward hook: generated wrappers in %s carry all %d keyward cases"
          % (folder, sum(len(e) for e in ENTRY_POINTS.values())))


def main(argv):
    try:
        if len(argv) == 3 and argv[1] == "--verify-generated":
            verify_generated(Path(argv[2]))
        elif len(argv) == 2 and not argv[1].startswith("-"):
            hook_tree(Path(argv[1]))
        else:
            print("usage: hook_driver_wrappers.py MBEDTLS_SOURCE_TREE | "
                  "--verify-generated DIR", file=sys.stderr)
            return 2
    except HookError as e:
        print("keyward hook: %s -- keyward was NOT hooked in" % e, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
