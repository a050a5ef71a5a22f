#!/usr/bin/env python3
"""Every public header compiles on its own as C11 and as C++ (-Werror)."""
import os
import shutil
import subprocess
import sys
import tempfile

src_inc, build_inc, *cc = sys.argv[1:]
cxx = shutil.which('c++') or shutil.which('g++') or shutil.which('clang++')
if not cxx:
    print('no C++ compiler found (install g++)')
    sys.exit(1)
hdr_dir = os.path.join(src_inc, 'mailproto')
headers = sorted(h for h in os.listdir(hdr_dir) if h.endswith('.h'))
bad = 0
with tempfile.TemporaryDirectory() as tmp:
    for h in headers:
        for lang, comp, ext, std in (('C11', cc, 'c', '-std=c11'), ('C++', [cxx], 'cpp', '-std=c++11')):
            f = os.path.join(tmp, f'{h}.{ext}')
            with open(f, 'w') as out:
                out.write(f'#include <mailproto/{h}>\n#include <mailproto/{h}>\nint mailproto_header_check_{h[:-2]}(void);\n'
                          f'int mailproto_header_check_{h[:-2]}(void) {{ return 0; }}\n')
            cmd = comp + [std, '-Wall', '-Wextra', '-Werror', '-pedantic', '-I', src_inc, '-I', build_inc,
                          '-c', f, '-o', os.devnull]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode:
                bad += 1
                print(f'{h} as {lang}: FAILED\n{r.stderr}')
print(f'{len(headers)} headers x 2 languages, {bad} failed')
sys.exit(1 if bad else 0)
