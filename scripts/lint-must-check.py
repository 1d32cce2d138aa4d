#!/usr/bin/env python3
"""Fails when a header declares a fallible function without CC_MUST_CHECK.

Fallible means: it takes `struct cc_error **` (the error contract, docs/errors.md) and returns
something. The error setters themselves (they always return -1, for `return cc_error_set(..)`)
and functions that return only on failure (exec) are exempt, by name.
"""
import pathlib
import re
import subprocess
import sys

EXEMPT = {'cc_error_set', 'cc_error_setv', 'cc_error_prefix', 'cc_error_free', 'tt_error_status',
          'rt_process_exec', 'img_error_code', 'img_unpack_fail', 'img_tar_fail'}


def declarations(text):
    """Top-level declarations (text up to ';' or '{'), with the line they start on."""
    depth, start, buf = 0, None, ''
    for n, line in enumerate(text.split('\n'), 1):
        stripped = line.strip()
        if depth == 0 and start is None:
            if not stripped or stripped.startswith(('#', '/*', '*', '//', 'typedef', '}')):
                depth += line.count('{') - line.count('}')
                continue
            start, buf = n, ''
        if start is not None:
            buf += line + '\n'
            if ';' in line or '{' in line:
                yield start, buf
                start = None
        depth += line.count('{') - line.count('}')
        depth = max(depth, 0)


def main():
    headers = subprocess.run(['git', 'ls-files', 'lib/*.h', 'cmd/*.h'], capture_output=True,
                             text=True, check=True).stdout.split()
    bad = []
    for h in headers:
        for line, decl in declarations(pathlib.Path(h).read_text()):
            if 'struct cc_error **' not in decl or '(' not in decl:
                continue
            m = re.match(r'\s*(?:CC_MUST_CHECK\s+)?(?:static\s+inline\s+)?(?:const\s+)?'
                         r'([\w\s]+?)\s*(\**)\s*(\w+)\s*\(', decl)
            if not m or m.group(3) in EXEMPT:
                continue
            rettype, name = m.group(1).split()[-1], m.group(3)
            if (rettype == 'void' and not m.group(2)) or 'noreturn' in decl:
                continue
            if decl.lstrip().startswith('static inline'):
                continue
            if 'CC_MUST_CHECK' not in decl:
                bad.append(f'{h}:{line}: {name} takes struct cc_error ** but is not CC_MUST_CHECK')
    for b in bad:
        print(b)
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
