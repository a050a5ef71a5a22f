#!/usr/bin/env python3
"""Write the linker version script from the modules' exports.sym lists."""
import sys

out, lists = sys.argv[1], sys.argv[2:]
names = []
for path in lists:
    with open(path) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if line:
                if not line.startswith('mailproto_') or line.startswith('mailproto__'):
                    sys.exit(f'{path}: {line}: exported names start with mailproto_ (one underscore)')
                names.append(line)
dups = {n for n in names if names.count(n) > 1}
if dups:
    sys.exit('exported twice: ' + ', '.join(sorted(dups)))
with open(out, 'w') as f:
    f.write('MAILPROTO_0 {\n  global:\n')
    for n in sorted(names):
        f.write(f'    {n};\n')
    f.write('  local:\n    *;\n};\n')
