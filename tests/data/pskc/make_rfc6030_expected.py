#!/usr/bin/env python3
"""Regenerate rfc6030/expected.json by reading the RFC 6030 example files
(as shipped in python-pskc 1.4's sdist, tests/rfc6030/) with python-pskc.

Usage (venv outside the repository):
    python3 -m venv /tmp/pskc-venv
    /tmp/pskc-venv/bin/pip install -r tests/data/pskc/requirements.txt
    /tmp/pskc-venv/bin/python tests/data/pskc/make_rfc6030_expected.py

The decryption key / passphrase per file are the ones python-pskc's own
tests (tests/test_rfc6030.doctest) use; see rfc6030/README.md.
"""

from __future__ import annotations

import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the repository

import os

from pskc_expected import HERE, describe_file, write_json

# file -> (RFC 6030 figure, pre-shared key hex, PBKDF2 passphrase)
FILES = [
    ('figure2.pskcxml', 2, None, None),
    ('figure3.pskcxml', 3, None, None),
    ('figure4.pskcxml', 4, None, None),
    ('figure5.pskcxml', 5, None, None),
    ('figure6.pskcxml', 6, '12345678901234567890123456789012', None),
    ('figure7.pskcxml', 7, None, 'qwerty'),
    # figure 8: RSA-1.5 (asymmetric) encryption; the RFC publishes no private
    # key and python-pskc cannot do asymmetric decryption: secret unreadable.
    ('figure8.pskcxml', 8, None, None),
    # figure 9: XML signature (not verifiable: no certificate); plain secret.
    ('figure9.pskcxml', 9, None, None),
    ('figure10.pskcxml', 10, None, None),
]


def main():
    folder = os.path.join(HERE, 'rfc6030')
    out = {}
    for name, figure, key_hex, password in FILES:
        entry = {'rfc6030_figure': figure}
        entry.update(describe_file(
            os.path.join(folder, name), key_hex=key_hex, password=password))
        out[name] = entry
    write_json(os.path.join(folder, 'expected.json'), out)
    print('wrote', os.path.join(folder, 'expected.json'))


if __name__ == '__main__':
    main()
