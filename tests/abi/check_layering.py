#!/usr/bin/env python3
"""Layering and hygiene gates (DESIGN.md sections 1 and 10, embedded.md 3.5).

1. The sans-I/O engines include no socket, TLS, stdio, time or iconv header:
   an engine is a pure function of (state, bytes in, calls, now).
2. Nothing in lib/ uses stdio (firmware links no printf), except the hosted
   OS glue files named *_os.c (files, clock, random), which are left out of
   builds without an OS.
3. The library has no mutable global state: no .data/.bss symbols in the
   static archive (read-only tables are fine)."""
import os
import re
import subprocess
import sys

src, archive = sys.argv[1], sys.argv[2]
lib = os.path.join(src, 'lib')

# Files that may do I/O: transports, the drive loop, client handles, iconv glue, crypto.
IO_ALLOWED = re.compile(r'(^transport/|^core/(drive|source|crypto_mbedtls)\.c$|_client\.c$|'
                        r'charset_iconv\.c$|_os\.c$)')
FORBIDDEN_ENGINE = re.compile(r'#\s*include\s*[<"]((sys/|netinet/|arpa/|net/)[^>"]*|netdb\.h|unistd\.h|'
                              r'poll\.h|fcntl\.h|time\.h|iconv\.h|mbedtls/[^>"]*|pthread\.h|signal\.h)[>"]')
STDIO = re.compile(r'#\s*include\s*[<"]stdio\.h[>"]')

errors = []
for root, _, files in os.walk(lib):
    for f in files:
        if not f.endswith(('.c', '.h')):
            continue
        path = os.path.join(root, f)
        rel = os.path.relpath(path, lib)
        text = open(path, encoding='utf-8', errors='replace').read()
        if STDIO.search(text) and not rel.endswith('_os.c'):
            errors.append(f'lib/{rel}: includes stdio.h (no stdio in the library)')
        if not IO_ALLOWED.search(rel):
            for m in FORBIDDEN_ENGINE.finditer(text):
                errors.append(f'lib/{rel}: engine code includes <{m.group(1)}>')

# sysv format names the section, so const tables holding pointers
# (.data.rel.ro under -fPIC) are told apart from writable data.
nm = subprocess.run(['nm', '--defined-only', '-f', 'sysv', archive], capture_output=True, text=True,
                    check=True).stdout
obj = '?'
for line in nm.splitlines():
    m = re.match(r'^Symbols from .*\[(.*)\]:', line)
    if m:
        obj = m.group(1)
        continue
    cols = [c.strip() for c in line.split('|')]
    if len(cols) < 7 or cols[2] not in 'BbDdCGgSs' or not cols[2]:
        continue
    name, section = cols[0], cols[6]
    if section.startswith('.data.rel.ro') or section.startswith('.rodata') or name.startswith(('__', '.')):
        continue
    if section.startswith(('.data', '.bss', 'COMMON', '.tbss', '.tdata')):
        errors.append(f'{obj}: mutable global {name} ({section})')

if errors:
    print('\n'.join(errors))
    sys.exit(1)
print('engines free of I/O headers; no stdio; no mutable globals')
