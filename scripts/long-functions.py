#!/usr/bin/env python3
"""Lists C functions longer than a threshold, and C files longer than another.

keyward's style puts a function's opening and closing braces at column 0, so
a function is the text from its signature (the lines above a column-0 '{'
back to the previous blank line, '}' or ';') to the next column-0 '}'.  The
length counted is the body: the '{' line through the '}' line, inclusive.

Usage: long-functions.py [--max N] [--max-file M] [--check] PATH...
Prints file:line:function:length for every function over N lines (default
60) and file:lines for every file over M lines (default 500).  A function
whose preceding comment contains "long-function:" states why it stays whole;
it is listed with "(reasoned)" and does not fail --check.  With --check, the
exit status is 1 if any unreasoned function exceeds N.
"""
import argparse
import os
import re
import sys

IDENT_BEFORE_PAREN = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)\s*\(')


def c_files(paths):
    for p in paths:
        if os.path.isfile(p):
            yield p
            continue
        for root, dirs, files in os.walk(p):
            dirs[:] = sorted(d for d in dirs if not d.startswith(('.', 'build')))
            for f in sorted(files):
                if f.endswith(('.c', '.h')):
                    yield os.path.join(root, f)


def functions(lines):
    """Yields (name, first line number 1-based, body length, reason stated)."""
    i = 0
    n = len(lines)
    while i < n:
        if lines[i].rstrip() != '{':
            i += 1
            continue
        # Signature: walk back to the line after a blank, '}' or ';'-ended line.
        j = i - 1
        while j >= 0 and lines[j].strip() and not lines[j].rstrip().endswith((';', '}', '*/')) \
                and not lines[j].startswith(('#', '}')) \
                and not lines[j].lstrip().startswith(('/*', '*', '//')):
            j -= 1
        sig = ' '.join(l.strip() for l in lines[j + 1:i])
        names = IDENT_BEFORE_PAREN.findall(sig)
        if not names or '=' in sig.split('(')[0]:
            i += 1          # an initialiser or struct, not a function
            continue
        name = names[0]
        # The comment above the signature may state why the function stays long.
        k = j
        comment = []
        while k >= 0 and (lines[k].strip().startswith(('/*', '*', '//')) or lines[k].strip().endswith('*/')):
            comment.append(lines[k])
            k -= 1
        reasoned = any('long-function:' in c for c in comment)
        end = i + 1
        while end < n and not lines[end].startswith('}'):
            end += 1
        yield name, j + 2, end - i + 1, reasoned
        i = end + 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--max', type=int, default=60)
    ap.add_argument('--max-file', type=int, default=500)
    ap.add_argument('--check', action='store_true')
    ap.add_argument('paths', nargs='+')
    args = ap.parse_args()
    bad = 0
    long_files = []
    for path in c_files(args.paths):
        with open(path, encoding='utf-8', errors='replace') as f:
            lines = f.read().split('\n')
        if len(lines) - 1 > args.max_file:
            long_files.append((path, len(lines) - 1))
        for name, line, length, reasoned in functions(lines):
            if length > args.max:
                print(f'{path}:{line}:{name}:{length}{" (reasoned)" if reasoned else ""}')
                bad += 0 if reasoned else 1
    for path, count in long_files:
        print(f'{path}:{count} lines (file)')
    if args.check and bad:
        print(f'{bad} function(s) over {args.max} lines without a stated reason', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
