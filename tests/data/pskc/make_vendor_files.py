#!/usr/bin/env python3
"""Write the vendor-style PSKC fixtures in vendor/ with python-pskc and
regenerate vendor/expected.json by reading the written files back.

Usage (venv outside the repository):
    python3 -m venv /tmp/pskc-venv
    /tmp/pskc-venv/bin/pip install -r tests/data/pskc/requirements.txt
    /tmp/pskc-venv/bin/python tests/data/pskc/make_vendor_files.py

Deterministic: every secret, pre-shared key, MAC key, PBKDF2 salt and CBC IV
is derived from SEED below (SHAKE-256 of SEED + label), so re-running the
script reproduces the files byte for byte. python-pskc 1.4 only offers one
fixed IV for the whole file (Encryption.iv, reused for every value); instead
its module-level encrypt() is wrapped to hand a fresh, seed-derived IV to each
encryption, as a real vendor's random IVs would be.

Every encrypted file is additionally decrypted and MAC-checked by
pskc_expected.cross_check(), which does not use python-pskc.
"""

from __future__ import annotations

import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the repository

import base64
import binascii
import datetime
import hashlib
import itertools
import os
import re

import pskc.encryption
from pskc import PSKC

from pskc_expected import HERE, cross_check, describe_file, write_json

SEED = b'webfb PSKC vendor fixtures, seed v1'

TOTP = 'urn:ietf:params:xml:ns:keyprov:pskc:totp'
HOTP = 'urn:ietf:params:xml:ns:keyprov:pskc:hotp'
OCRA_PROFILE = 'urn:ietf:params:xml:ns:keyprov:pskc#OCRA-1:HOTP-SHA1-6:QN08'
OCRA_GENERIC = 'urn:ietf:params:xml:ns:keyprov:pskc:ocra'
PROPRIETARY = 'http://www.vendor.example/otp/proprietary'
UTC = datetime.timezone.utc

OUT = os.path.join(HERE, 'vendor')


def derive(label, length):
    """Deterministic pseudo-random bytes for a label."""
    return hashlib.shake_256(SEED + b'\0' + label.encode()).digest(length)


# --- deterministic IVs ------------------------------------------------------

_orig_encrypt = pskc.encryption.encrypt
_iv_label = 'unset'
_iv_counter = itertools.count()


def _encrypt_with_seeded_iv(algorithm, key, plaintext, iv=None):
    if iv is None and algorithm and algorithm.endswith('-cbc'):
        iv = derive('%s/iv/%d' % (_iv_label, next(_iv_counter)), 16)
    return _orig_encrypt(algorithm, key, plaintext, iv)


pskc.encryption.encrypt = _encrypt_with_seeded_iv


def start_file(name):
    global _iv_label, _iv_counter
    _iv_label = name
    _iv_counter = itertools.count()


# --- helpers ----------------------------------------------------------------

def add_totp(pskc, serial=None, key_id=None, label=None, digits=6,
             interval=30, secret_len=20, manufacturer='ExampleVendor',
             algorithm=TOTP, **kw):
    key = pskc.add_key(
        id=key_id if key_id is not None else serial,
        serial=serial,
        manufacturer=manufacturer if serial is not None else None,
        issuer='webfb-test',
        algorithm=algorithm,
        response_encoding='DECIMAL',
        response_length=digits,
        secret=derive(label or 'secret/%s' % (serial or key_id), secret_len),
        **kw)
    if interval is not None:
        key.time_interval = interval
    return key


def write(pskc, name):
    path = os.path.join(OUT, name)
    pskc.write(path)
    return path


def build_a():
    """AES-128-CBC + pre-shared key, HMAC-SHA1, 3 TOTP keys."""
    name = 'aes128_psk_hmac_sha1.pskcxml'
    start_file(name)
    psk, mac_key = derive('a/psk', 16), derive('a/mac', 20)
    p = PSKC()
    p.mac.setup(key=mac_key, algorithm='hmac-sha1')
    p.encryption.setup_preshared_key(
        key=psk, algorithm='aes128-cbc', key_name='Pre-shared-key')
    for n in range(3):
        key = add_totp(p, serial='FTCN%08d' % (12345 + n))
        key.time_offset = 0
        key.policy.key_usage = ['OTP']
    return name, write(p, name), psk.hex(), None, (
        '3 TOTP keys (6 digits, 30 s), Secret encrypted AES-128-CBC with a '
        'pre-shared key, ValueMAC HMAC-SHA1; MAC key encrypted in MACMethod.')


def build_b():
    """AES-256-CBC + pre-shared key, HMAC-SHA256, 2 keys."""
    name = 'aes256_psk_hmac_sha256.pskcxml'
    start_file(name)
    psk, mac_key = derive('b/psk', 32), derive('b/mac', 32)
    p = PSKC()
    p.mac.setup(key=mac_key, algorithm='hmac-sha256')
    p.encryption.setup_preshared_key(
        key=psk, algorithm='aes256-cbc', key_name='Pre-shared-key')
    add_totp(p, serial='FTKA00000001')
    # second key: 32-byte secret, 8 digits, 60 s
    add_totp(p, serial='FTKA00000002', digits=8, interval=60, secret_len=32)
    return name, write(p, name), psk.hex(), None, (
        '2 TOTP keys, AES-256-CBC with a pre-shared key, ValueMAC '
        'HMAC-SHA256 (xmldsig-more URI). Key 2 has a 32-byte secret, '
        '8 digits, 60 s interval.')


PASSPHRASE = 'webfb-pskc-passphrase'
PBKDF2_ITERATIONS = 10000


def build_c():
    """PBKDF2 (HMAC-SHA1) derived AES-128 key, HMAC-SHA1 MAC."""
    name = 'pbkdf2_aes128.pskcxml'
    start_file(name)
    p = PSKC()
    p.mac.setup(key=derive('c/mac', 20), algorithm='hmac-sha1')
    p.encryption.setup_pbkdf2(
        PASSPHRASE, algorithm='aes128-cbc', key_length=16,
        salt=derive('c/salt', 16), iterations=PBKDF2_ITERATIONS,
        key_name='webfb test passphrase')
    add_totp(p, serial='PBK-0001')
    add_totp(p, serial='PBK-0002')
    return name, write(p, name), None, PASSPHRASE, (
        '2 TOTP keys, AES-128-CBC with a key derived by PBKDF2-HMAC-SHA1 '
        '(%d iterations, 16-byte salt, 16-byte key) from a passphrase, '
        'ValueMAC HMAC-SHA1. NOTE: python-pskc writes the parameters as '
        'xenc11:PBKDF2-params (XML Encryption 1.1 namespace), whereas RFC '
        '6030 figure 7 uses pkcs5:PBKDF2-params; no PRF element is written '
        '(= HMAC-SHA1 default).' % PBKDF2_ITERATIONS)


def build_d():
    """Plain values: 2 TOTP + 2 HOTP."""
    name = 'mixed_totp_hotp.pskcxml'
    start_file(name)
    p = PSKC()
    add_totp(p, serial='YK-0001-A')
    add_totp(p, serial='YK-0002-A', digits=8, interval=60)
    for serial, counter in (('YK-0003-B', 0), ('YK-0004-B', 42)):
        add_totp(p, serial=serial, algorithm=HOTP, interval=None,
                 counter=counter)
    return name, write(p, name), None, None, (
        'Plain (unencrypted) values: 2 TOTP keys (6 digits/30 s and '
        '8 digits/60 s) and 2 HOTP keys (6 digits, counters 0 and 42).')


def build_e():
    """Plain: usable TOTP, expired TOTP, OCRA, proprietary, Encrypt-only."""
    name = 'expired_and_ocra.pskcxml'
    start_file(name)
    p = PSKC()
    k = add_totp(p, serial='EXP-0001')
    k.policy.key_usage = ['OTP']
    k.policy.start_date = datetime.datetime(2024, 1, 1, tzinfo=UTC)
    k.policy.expiry_date = datetime.datetime(2099, 12, 31, tzinfo=UTC)
    k = add_totp(p, serial='EXP-0002')
    k.policy.key_usage = ['OTP']
    k.policy.start_date = datetime.datetime(2019, 1, 1, tzinfo=UTC)
    k.policy.expiry_date = datetime.datetime(2020, 1, 1, tzinfo=UTC)
    k = add_totp(p, serial='EXP-0003', algorithm=OCRA_PROFILE, interval=None,
                 challenge_encoding='DECIMAL', challenge_min_length=8,
                 challenge_max_length=8)
    k.policy.key_usage = ['CR']
    k = add_totp(p, serial='EXP-0004', algorithm=PROPRIETARY, interval=None)
    k.policy.key_usage = ['OTP']
    k = add_totp(p, serial='EXP-0005')
    k.policy.key_usage = ['Encrypt']
    # extra: OCRA the way vendors/multiOTP write it (generic URI + Suite)
    k = add_totp(p, serial='EXP-0006', algorithm=OCRA_GENERIC, interval=None,
                 algorithm_suite='OCRA-1:HOTP-SHA1-6:QN08',
                 challenge_encoding='DECIMAL', challenge_min_length=8,
                 challenge_max_length=8)
    k.policy.key_usage = ['CR']
    return name, write(p, name), None, None, (
        'Plain values. Key 1 EXP-0001: usable TOTP (KeyUsage OTP, Policy '
        'valid 2024-01-01..2099-12-31). Key 2 EXP-0002: TOTP whose Policy '
        'ExpiryDate is 2020-01-01T00:00:00Z (expired). Key 3 EXP-0003: OCRA, '
        'algorithm %s (suite in the URI, draft-hoyer profile style), '
        'KeyUsage CR. Key 4 EXP-0004: vendor-specific algorithm %s. Key 5 '
        'EXP-0005: TOTP with KeyUsage Encrypt only. Key 6 EXP-0006 (extra): '
        'OCRA as multiOTP-style files write it: algorithm %s + '
        'AlgorithmParameters/Suite OCRA-1:HOTP-SHA1-6:QN08, KeyUsage CR.'
        % (OCRA_PROFILE, PROPRIETARY, OCRA_GENERIC))


def build_f():
    name = 'drifted.pskcxml'
    start_file(name)
    p = PSKC()
    add_totp(p, serial='DRIFT-0001', time_drift=122)
    return name, write(p, name), None, None, (
        'One plain TOTP key with Data/TimeDrift 122 (RFC 6030: number of '
        'time intervals the device clock drifted; python-pskc time_drift).')


def build_g():
    name = 'key_id_only.pskcxml'
    start_file(name)
    p = PSKC()
    for n in range(1, 4):
        add_totp(p, key_id='TOTP-KEY-%03d' % n)
    return name, write(p, name), None, None, (
        'Plain TOTP keys identified only by Key/@Id: no DeviceInfo at all '
        '(no SerialNo, no Manufacturer).')


BULK = 10000


def build_h():
    name = 'ten_thousand.pskcxml'
    start_file(name)
    psk, mac_key = derive('h/psk', 16), derive('h/mac', 20)
    p = PSKC()
    p.mac.setup(key=mac_key, algorithm='hmac-sha1')
    p.encryption.setup_preshared_key(
        key=psk, algorithm='aes128-cbc', key_name='Pre-shared-key')
    for n in range(BULK):
        add_totp(p, serial='BULK-%05d' % n)
    return name, write(p, name), psk.hex(), None, (
        '%d TOTP keys BULK-00000..BULK-%05d, AES-128-CBC with a pre-shared '
        'key, HMAC-SHA1. Only the first and last keys are listed '
        '(first_key/last_key); key N has serial BULK-%%05d %% N.'
        % (BULK, BULK - 1))


TAMPER_KEY_INDEX = 1   # second key, FTCN00012346
TAMPER_CHAR_INDEX = 10  # character position inside the base64 ValueMAC


def build_i(a_path):
    """Copy of (a) with one base64 character of one ValueMAC altered."""
    name = 'tampered_mac.pskcxml'
    data = open(a_path, 'rb').read().decode('utf-8')
    macs = list(re.finditer(r'<pskc:ValueMAC>([A-Za-z0-9+/=]+)</pskc:ValueMAC>', data))
    assert len(macs) == 3, len(macs)
    m = macs[TAMPER_KEY_INDEX]
    original = m.group(1)
    c = original[TAMPER_CHAR_INDEX]
    replacement = 'B' if c != 'B' else 'C'
    tampered = original[:TAMPER_CHAR_INDEX] + replacement + original[TAMPER_CHAR_INDEX + 1:]
    assert base64.b64decode(tampered) != base64.b64decode(original)
    data = data[:m.start(1)] + tampered + data[m.end(1):]
    path = os.path.join(OUT, name)
    with open(path, 'wb') as f:
        f.write(data.encode('utf-8'))
    info = {
        'copy_of': 'aes128_psk_hmac_sha1.pskcxml',
        'key_index': TAMPER_KEY_INDEX,
        'serial': 'FTCN%08d' % (12345 + TAMPER_KEY_INDEX),
        'element': 'KeyPackage[%d]/Key/Data/Secret/ValueMAC' % (TAMPER_KEY_INDEX + 1),
        'char_index': TAMPER_CHAR_INDEX,
        'original_value_mac': original,
        'tampered_value_mac': tampered,
    }
    return name, path, info


def main():
    os.makedirs(OUT, exist_ok=True)
    expected = {}
    built = [build_a(), build_b(), build_c(), build_d(), build_e(),
             build_f(), build_g(), build_h()]
    for name, path, key_hex, password, description in built:
        entry = {'description': description}
        entry.update(describe_file(path, key_hex=key_hex, password=password))
        if password is not None:
            # independent PBKDF2 check (stdlib XML + hashlib, no python-pskc)
            import xml.etree.ElementTree as ET
            x11 = '{http://www.w3.org/2009/xmlenc11#}'
            params = ET.parse(path).getroot().find('.//%sPBKDF2-params' % x11)
            derived = hashlib.pbkdf2_hmac(
                'sha1', password.encode('utf-8'),
                base64.b64decode(params.findtext('Salt/Specified')),
                int(params.findtext('IterationCount')),
                int(params.findtext('KeyLength')))
            assert derived.hex() == entry['derived_key_hex'], name
            entry['pbkdf2_note'] = (
                'PBKDF2-HMAC-SHA1(password UTF-8, salt, iterations, '
                'key_length) -> AES key (derived_key_hex)')
        if entry.get('encryption_algorithm'):
            key = binascii.unhexlify(key_hex or entry['derived_key_hex'])
            checks = cross_check(path, key, entry)
            assert all(r == 'ok' for _, r in checks), (name, checks)
        if name == 'ten_thousand.pskcxml':
            keys = entry.pop('keys')
            assert len(keys) == BULK
            assert len({k['secret_hex'] for k in keys}) == BULK
            entry['first_key'] = keys[0]
            entry['last_key'] = keys[-1]
        expected[name] = entry
        print('wrote %s (%d bytes)' % (path, os.path.getsize(path)))

    a_path = built[0][1]
    a_entry = expected[built[0][0]]
    name, path, info = build_i(a_path)
    entry = {'description': (
        'Byte-identical copy of aes128_psk_hmac_sha1.pskcxml except for one '
        'base64 character of the ValueMAC of key %d (serial %s): the secret '
        'still decrypts, but its MAC check must fail (python-pskc raises '
        'DecryptionError "MAC value does not match"; secret_hex is null and '
        'errors.secret says why). The other two keys are intact.'
        % (info['key_index'], info['serial']))}
    entry.update(describe_file(path, key_hex=a_entry['key_hex']))
    entry['tampered'] = dict(info, untampered_secret_hex=a_entry['keys'][
        info['key_index']]['secret_hex'])
    checks = cross_check(path, binascii.unhexlify(a_entry['key_hex']), entry)
    assert [r for _, r in checks] == ['ok', 'mac-mismatch', 'ok'], checks
    assert entry['keys'][info['key_index']]['errors']['secret'] == 'MAC value does not match'
    expected[name] = entry
    print('wrote %s (%d bytes)' % (path, os.path.getsize(path)))

    write_json(os.path.join(OUT, 'expected.json'), expected)
    print('wrote', os.path.join(OUT, 'expected.json'))


if __name__ == '__main__':
    sys.exit(main())
