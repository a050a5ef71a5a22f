#!/usr/bin/env python3
"""The exported symbols of libmailproto.so must equal the version map, none
may be internal (mailproto__*), and every MAILPROTO_API declaration in the
installed headers must be exported (and nothing else)."""
import os
import re
import subprocess
import sys

lib, map_file, *hdr_dirs = sys.argv[1:]

nm = subprocess.run(['nm', '-D', '--defined-only', lib], check=True,
                    capture_output=True, text=True).stdout
exported = set()
for line in nm.splitlines():
    parts = line.split()
    if len(parts) >= 3 and parts[1] in 'TtDdBbRrVvWw' and not parts[2].startswith('MAILPROTO_0'):
        exported.add(parts[2].split('@')[0])

mapped = set(re.findall(r'^\s+(mailproto_\w+);', open(map_file).read(), re.M))

declared = set()
for d in hdr_dirs:
    for name in sorted(os.listdir(d)):
        if not name.endswith('.h'):
            continue
        text = open(os.path.join(d, name)).read()
        # MAILPROTO_API <type...> name(   -- possibly across lines
        for m in re.finditer(r'MAILPROTO_API\b([^;{]*?)\b(mailproto_\w+)\s*\(', text, re.S):
            declared.add(m.group(2))

errors = []
internal = sorted(s for s in exported if s.startswith('mailproto__') or not s.startswith('mailproto_'))
if internal:
    errors.append('exported but not public: ' + ', '.join(internal))
if exported != mapped:
    errors.append('exported, not in map: ' + ', '.join(sorted(exported - mapped)))
    errors.append('in map, not exported: ' + ', '.join(sorted(mapped - exported)))
if declared != mapped:
    errors.append('declared MAILPROTO_API, not in map: ' + ', '.join(sorted(declared - mapped)))
    errors.append('in map, not declared: ' + ', '.join(sorted(mapped - declared)))
if errors:
    print('\n'.join(errors))
    sys.exit(1)
print(f'{len(exported)} exported symbols == version map == header declarations')
