#!/usr/bin/env python3
"""Describe PSKC files as python-pskc reads them (the "expected" values).

Shared by make_rfc6030_expected.py and make_vendor_files.py. Everything in an
expected.json is produced by reading the PSKC file with python-pskc
(https://pypi.org/project/python-pskc/, pinned in requirements.txt), never
typed by hand, so the Rust importer's tests compare against an independent
implementation.
"""

from __future__ import annotations

import binascii
import datetime
import json
import os

from pskc import PSKC
from pskc.exceptions import PSKCError


def _hex(value):
    if value is None:
        return None
    if isinstance(value, str):
        value = value.encode()
    return binascii.hexlify(bytes(value)).decode()


def _date(value):
    """ISO 8601; timezone-aware values are normalised to UTC with a 'Z'.

    (python-dateutil may hand back tzlocal() for a 'Z' date when the local
    zone is UTC, so normalise instead of relying on repr/isoformat.)
    """
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        return value.isoformat() + 'Z'
    return value.isoformat()


def _read(key, attr):
    """Read one (possibly encrypted) key attribute: (value, error message)."""
    try:
        return getattr(key, attr), None
    except PSKCError as e:  # DecryptionError: no key / MAC mismatch / ...
        return None, str(e)


def describe_key(key):
    secret, secret_error = _read(key, 'secret')
    counter, counter_error = _read(key, 'counter')
    time_offset, time_offset_error = _read(key, 'time_offset')
    time_interval, time_interval_error = _read(key, 'time_interval')
    time_drift, time_drift_error = _read(key, 'time_drift')
    entry = {
        'id': key.id,
        'serial': key.serial,
        'manufacturer': key.manufacturer,
        'issuer': key.issuer,
        'algorithm': key.algorithm,
        'algorithm_suite': key.algorithm_suite,
        'digits': key.response_length,
        'response_encoding': key.response_encoding,
        'counter': counter,
        'time_offset': time_offset,
        'time_interval': time_interval,
        'time_drift': time_drift,
        # Key/Policy/StartDate and Key/Policy/ExpiryDate
        'start_date': _date(key.policy.start_date),
        'expiry_date': _date(key.policy.expiry_date),
        # DeviceInfo/StartDate and DeviceInfo/ExpiryDate
        'device_start_date': _date(key.start_date),
        'device_expiry_date': _date(key.expiry_date),
        'key_usage': list(key.policy.key_usage),
        'key_profile': key.key_profile,
        'key_reference': key.key_reference,
        'pin_key_id': key.policy.pin_key_id,
        'secret_hex': _hex(secret),
    }
    errors = {
        name: err for name, err in (
            ('secret', secret_error), ('counter', counter_error),
            ('time_offset', time_offset_error),
            ('time_interval', time_interval_error),
            ('time_drift', time_drift_error)) if err}
    if errors:
        # python-pskc raised DecryptionError for these fields
        entry['errors'] = errors
    return entry


def describe_file(path, key_hex=None, password=None):
    """Return the expected.json entry for one PSKC file.

    key_hex: pre-shared encryption key (hex); password: PBKDF2 passphrase.
    """
    pskc = PSKC(path)
    entry = {}
    if key_hex is not None:
        entry['key_hex'] = key_hex
        pskc.encryption.key = binascii.unhexlify(key_hex)
    if password is not None:
        entry['password'] = password
        pskc.encryption.derive_key(password)
    enc = pskc.encryption
    entry['container_id'] = pskc.id
    entry['encryption_algorithm'] = enc.algorithm
    entry['encryption_key_name'] = enc.key_name
    if enc.derivation.algorithm:
        entry['key_derivation'] = {
            'algorithm': enc.derivation.algorithm,
            'salt_hex': _hex(enc.derivation.pbkdf2_salt),
            'iterations': enc.derivation.pbkdf2_iterations,
            'key_length': enc.derivation.pbkdf2_key_length,
            'prf': enc.derivation.pbkdf2_prf,  # None means HMAC-SHA1
        }
        if password is not None:
            entry['derived_key_hex'] = _hex(enc.key)
    entry['mac_algorithm'] = pskc.mac.algorithm
    if pskc.mac.algorithm and enc.key is not None:
        try:
            entry['mac_key_hex'] = _hex(pskc.mac.key)
        except PSKCError as e:
            entry['mac_key_error'] = str(e)
    entry['signed'] = bool(pskc.signature.is_signed)
    keys = [describe_key(key) for key in pskc.keys]
    entry['key_count'] = len(keys)
    entry['keys'] = keys
    return entry


def write_json(path, data):
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(data, f, indent=2, sort_keys=False, ensure_ascii=False)
        f.write('\n')


HERE = os.path.dirname(os.path.abspath(__file__))


# ---------------------------------------------------------------------------
# Independent cross-check (does NOT use python-pskc): plain ElementTree +
# cryptography, following RFC 6030 section 6.1 literally: CipherValue is
# IV || AES-CBC(PKCS#7) ciphertext and ValueMAC = HMAC(MACKey, IV || ciphertext).
# Used to make sure the files python-pskc writes are what RFC 6030 describes.
# ---------------------------------------------------------------------------

_NS = {
    'pskc': 'urn:ietf:params:xml:ns:keyprov:pskc',
    'xenc': 'http://www.w3.org/2001/04/xmlenc#',
}


def _cbc_decrypt(key, blob):
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    iv, ct = blob[:16], blob[16:]
    dec = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    padded = dec.update(ct) + dec.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return unpadder.update(padded) + unpadder.finalize()


def cross_check(path, enc_key, expected_entry):
    """Decrypt every Key/Data/Secret and check its ValueMAC independently.

    Returns a list of (index, 'ok' | 'mac-mismatch') and raises AssertionError
    if a decrypted secret differs from what python-pskc reported.
    """
    import base64
    import hashlib
    import hmac
    import xml.etree.ElementTree as ET

    root = ET.parse(path).getroot()
    mac_method = root.find('pskc:MACMethod', _NS)
    mac_alg = mac_method.get('Algorithm')
    digest = {
        'http://www.w3.org/2000/09/xmldsig#hmac-sha1': hashlib.sha1,
        'http://www.w3.org/2001/04/xmldsig-more#hmac-sha256': hashlib.sha256,
    }[mac_alg]
    mac_key = _cbc_decrypt(enc_key, base64.b64decode(mac_method.findtext(
        'pskc:MACKey/xenc:CipherData/xenc:CipherValue', namespaces=_NS)))
    results = []
    keys = root.findall('pskc:KeyPackage/pskc:Key', _NS)
    expected_keys = expected_entry['keys']
    if isinstance(expected_keys, list):
        assert len(keys) == len(expected_keys), (len(keys), len(expected_keys))
    for i, key in enumerate(keys):
        secret = key.find('pskc:Data/pskc:Secret', _NS)
        blob = base64.b64decode(secret.findtext(
            'pskc:EncryptedValue/xenc:CipherData/xenc:CipherValue',
            namespaces=_NS))
        value_mac = base64.b64decode(secret.findtext('pskc:ValueMAC', namespaces=_NS))
        plain = _cbc_decrypt(enc_key, blob)
        ok = hmac.compare_digest(hmac.new(mac_key, blob, digest).digest(), value_mac)
        results.append((i, 'ok' if ok else 'mac-mismatch'))
        if isinstance(expected_keys, list):
            want = expected_keys[i]['secret_hex']
            if ok:
                assert want == _hex(plain), (path, i, want, _hex(plain))
            else:
                assert want is None, (path, i, 'python-pskc accepted a bad MAC')
    return results
