#!/usr/bin/env python3
"""Write a C header holding a DER file's bytes as a static array, after checking that the file's
SHA-256 is the pinned one: a trust anchor that changed is a build failure, not a new anchor.

Usage: embed-der.py INPUT OUTPUT ARRAY_NAME SHA256
"""
import hashlib
import os
import sys


def main():
    src, out, name, pinned = sys.argv[1:5]
    with open(src, 'rb') as f:
        data = f.read()
    got = hashlib.sha256(data).hexdigest()
    if got != pinned.lower():
        sys.exit(f'{src}: SHA-256 {got}, not the pinned {pinned.lower()}')
    rows = [', '.join(f'0x{b:02x}' for b in data[i:i + 12]) for i in range(0, len(data), 12)]
    with open(out, 'w') as f:
        f.write(f'/* Generated from {os.path.basename(src)} (SHA-256 {got}) by '
                'lib/attest/embed-der.py; not to be edited. */\n')
        f.write(f'static const unsigned char {name}[{len(data)}] = {{\n')
        f.write(''.join(f'\t{row},\n' for row in rows))
        f.write('};\n')


if __name__ == '__main__':
    main()
