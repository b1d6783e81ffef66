#!/usr/bin/env python3
"""Finds dependency cycles among keyward's own files; exits 1 if there is one.

Two graphs, both over the tree's own files only:

  headers  A -> B when A has `#include "B"` and B resolves within the tree
           (beside A first, then under the include roots).  A cycle here is
           a pair of headers that need each other.
  files    per folder, X.c -> Y.c when X.c calls or uses a non-static
           function or variable that Y.c defines (definitions from
           universal-ctags).  Files in a folder that share one header hide
           their cycles from the include graph; this graph shows them: a
           backend is layered when no two of its files need each other.

Usage: include-cycles.py [--root DIR] [FOLDER...]   (default: src tools)
Prints each cycle found, then a summary line; exit status 1 on a cycle.
"""
import argparse
import os
import re
import subprocess
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
IDENT = re.compile(r'\b[A-Za-z_][A-Za-z0-9_]*\b')
COMMENT = re.compile(r'/\*.*?\*/|//[^\n]*', re.S)
STRING = re.compile(r'"(?:\\.|[^"\\\n])*"')
INCLUDE_ROOTS = ['include', 'src', '.']


def sources(root, folders):
    out = []
    for folder in folders:
        for d, dirs, files in os.walk(os.path.join(root, folder)):
            dirs[:] = sorted(x for x in dirs if not x.startswith(('.', 'build')))
            out += [os.path.join(d, f) for f in sorted(files) if f.endswith(('.c', '.h'))]
    return out


def strongly_connected(graph):
    """Tarjan's algorithm, iterative; yields components with more than one node."""
    index, low, on, stack, comps, counter = {}, {}, set(), [], [], [0]
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on.add(start)
        while work:
            node, it = work[-1]
            nxt = next(it, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter[0]
                    counter[0] += 1
                    stack.append(nxt)
                    on.add(nxt)
                    work.append((nxt, iter(sorted(graph.get(nxt, ())))))
                elif nxt in on:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                if len(comp) > 1:
                    comps.append(sorted(comp))
    return comps


def header_graph(root, files):
    graph = {}
    for f in files:
        with open(f, encoding='utf-8', errors='replace') as fh:
            text = fh.read()
        deps = set()
        for inc in INCLUDE.findall(text):
            for base in [os.path.dirname(f)] + [os.path.join(root, r) for r in INCLUDE_ROOTS]:
                cand = os.path.normpath(os.path.join(base, inc))
                if os.path.isfile(cand):
                    deps.add(os.path.relpath(cand, root))
                    break
        graph[os.path.relpath(f, root)] = deps
    return graph


def is_static(path, number):
    """ctags misses `static` before an anonymous struct type ("static struct {
    ...} known[16];" is tagged at its last line): look at the line that
    opens the declaration."""
    with open(path, encoding='utf-8', errors='replace') as fh:
        lines = fh.read().split('\n')
    i = number - 1
    while i > 0 and lines[i][:1] in (' ', '\t', '}'):
        i -= 1
    return lines[i].startswith('static')


def file_graph(root, files):
    """Per folder: X.c -> Y.c when X.c uses an external symbol defined in Y.c."""
    cfiles = [f for f in files if f.endswith('.c')]
    tags = subprocess.run(['ctags', '-x', '--c-kinds=fv', '--extras=-F',
                           '--_xformat=%N\t%F\t%n'] + cfiles, capture_output=True, text=True,
                          check=True).stdout
    defined = {}
    for line in tags.splitlines():
        name, path, number = line.split('\t')
        if name == 'main' or is_static(path, int(number)):
            continue  # a program's own entry point, or file-local after all
        defined.setdefault(name, set()).add(os.path.normpath(path))
    graph = {}
    for f in cfiles:
        with open(f, encoding='utf-8', errors='replace') as fh:
            text = STRING.sub('""', COMMENT.sub(' ', fh.read()))
        me = os.path.normpath(f)
        deps = set()
        for ident in set(IDENT.findall(text)):
            if me in defined.get(ident, ()):
                continue  # its own (one of a symbol's #if variants lives here)
            for where in defined.get(ident, ()):
                if where != me and os.path.dirname(where) == os.path.dirname(me):
                    deps.add(os.path.relpath(where, root))
        graph[os.path.relpath(f, root)] = deps
    return graph


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--root', default=os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
    ap.add_argument('folders', nargs='*', default=['src', 'tools'])
    args = ap.parse_args()
    root = os.path.normpath(args.root)
    files = sources(root, args.folders)
    cycles = 0
    for kind, graph in (('header', header_graph(root, files)), ('file', file_graph(root, files))):
        for comp in strongly_connected(graph):
            cycles += 1
            print(f'{kind} cycle ({len(comp)} files): ' + ' <-> '.join(comp))
    print(f'{cycles} cycle(s) among {len(files)} files under {", ".join(args.folders)}')
    return 1 if cycles else 0


if __name__ == '__main__':
    sys.exit(main())
