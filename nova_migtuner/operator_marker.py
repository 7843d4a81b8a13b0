# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""The signed one-off operator strategy marker.

An operator may choose the strategy of one live migration
(``openstack migtuner migrate SERVER --strategy fastest``). Nova's live
migration API carries no such parameter, and server metadata - the one
channel from the API to the source compute - can be written by the tenant
who owns the server. So the operator's choice travels as a marker in server
metadata that only holders of ``[migtuner] operator_secret`` can produce:

    v1:<strategy>:<expires>:<nonce>:<hmac-sha256 hex>
    v2:<key id>:<strategy>:<expires>:<nonce>:<hmac-sha256 hex>

``v2`` names the key that signed it, so that two keys can be live while
the secret is rotated (``Keyring``, ``operator_secret_file``);
a ``v1`` marker is accepted when any configured key verifies it.

The HMAC covers the key id, the strategy, the expiry and the nonce carried
in the marker, and the instance uuid and the source host that the verifier
knows itself. Hence a tenant who reads the marker (it is visible in their
server's metadata) cannot change the strategy, move it to another server,
or use it after it expires; the used-nonce store on the source compute
refuses it a second time, and the host binding refuses it on any other
compute (where that compute's store has never seen it) - e.g. after the
server moved.

Pure code: no nova; I/O only for the optional SQLite nonce store and the
secret file.
"""

import collections
import dataclasses
import hashlib
import hmac
import math
import os
import re
import secrets
import sqlite3
import stat
import threading
import time
from typing import Optional, Tuple

# Server metadata key the marker is stored under (nova allows 255 characters
# for a metadata value; a marker is at most ~170).
METADATA_KEY = 'migtuner_operator_marker'
VERSION = 'v1'
VERSION_KEYED = 'v2'
DEFAULT_TTL_S = 600
# Markers living longer than this are refused whatever they say: the nonce
# store has to remember a nonce until its marker expires.
DEFAULT_MAX_TTL_S = 3600
# Clocks of the operator's workstation and the computes differ a little.
CLOCK_SKEW_S = 60
# What ``check_secret`` (the driver at start, the operator tooling, the
# check command) requires: 32 random bytes, i.e. 256 bits of key.
MIN_SECRET_BYTES = 32
MIN_SECRET_BITS = 256
# A random string has several bits per character; fewer means a pattern.
MIN_BITS_PER_CHARACTER = 3.0
# Shortest key ``sign``/``verify`` work with at all.
MIN_KEY_BYTES = 16
DEFAULT_KEY_ID = 'default'

_STRATEGY_RE = re.compile(r'^[A-Za-z0-9_.-]{1,64}$')
_NONCE_RE = re.compile(r'^[A-Za-z0-9_-]{16,64}$')
_SIG_RE = re.compile(r'^[0-9a-f]{64}$')
_KEY_ID_RE = re.compile(r'^[A-Za-z0-9_-]{1,16}$')
_MAC_DOMAIN = 'nova_migtuner-operator-marker-v1'

# MarkerError.reason values: stable codes for logs and notifications.
REASON_NO_SECRET = 'no_secret'
REASON_MALFORMED = 'malformed'
REASON_EXPIRED = 'expired'
REASON_TOO_LONG = 'ttl_too_long'
REASON_BAD_SIGNATURE = 'bad_signature'
REASON_REUSED = 'reused'
REASON_STRATEGY_NOT_ALLOWED = 'strategy_not_allowed'
REASON_UNKNOWN_KEY = 'unknown_key'
REASON_NONCE_STORE = 'nonce_store_error'


class MarkerError(ValueError):
    """A marker was refused; ``reason`` is one of the REASON_* codes."""

    def __init__(self, reason, message):
        self.reason = reason
        super().__init__(message)


@dataclasses.dataclass(frozen=True)
class Marker:
    """The fields carried in a marker string."""
    strategy: str
    expires_at: int
    nonce: str
    signature: str
    key_id: Optional[str] = None    # None: a v1 marker

    def to_string(self):
        head = ((VERSION,) if self.key_id is None
                else (VERSION_KEYED, self.key_id))
        return ':'.join(head + (self.strategy, str(self.expires_at),
                                self.nonce, self.signature))


def new_nonce():
    return secrets.token_urlsafe(16)


@dataclasses.dataclass(frozen=True)
class Keyring:
    """Operator keys by key id; the first one signs, every one verifies."""
    keys: Tuple[Tuple[str, bytes], ...]

    def __post_init__(self):
        if not self.keys:
            raise MarkerError(REASON_NO_SECRET, 'no operator secret '
                              'configured')
        ids = [key_id for key_id, _ in self.keys]
        for key_id in ids:
            if not _KEY_ID_RE.match(key_id):
                raise MarkerError(REASON_MALFORMED, 'key id %r: allowed '
                                  'are 1..16 letters, digits, _ or -'
                                  % key_id)
        twice = sorted(k for k, n in collections.Counter(ids).items()
                       if n > 1)
        if twice:
            raise MarkerError(REASON_MALFORMED, 'key id(s) %s given more '
                              'than once' % ', '.join(twice))

    @property
    def signing(self):
        return self.keys[0]

    def get(self, key_id):
        return dict(self.keys).get(key_id)


def _encode(secret):
    return secret.encode('utf-8') if isinstance(secret, str) else secret


def keyring_from_text(text):
    """The ``Keyring`` of a secret file's text.

    Each line that is not empty or a ``#`` comment is ``<key id> <secret>``
    or a bare ``<secret>`` (key id ``default``).
    """
    keys = []
    for line in (text or '').splitlines():
        line = line.strip()
        if not line or line.startswith('#'):
            continue
        parts = line.split(None, 1)
        if len(parts) == 1:
            keys.append((DEFAULT_KEY_ID, _encode(parts[0])))
        else:
            keys.append((parts[0], _encode(parts[1].strip())))
    if not keys:
        raise MarkerError(REASON_NO_SECRET, 'the operator secret file '
                          'holds no key')
    return Keyring(tuple(keys))


def _keyring(secret):
    """*secret* (str, bytes or ``Keyring``) as a ``Keyring``."""
    if isinstance(secret, Keyring):
        keyring = secret
    elif not secret:
        raise MarkerError(REASON_NO_SECRET,
                          'no operator secret configured: set [migtuner] '
                          'operator_secret_file (or operator_secret) on the '
                          'computes and give the same secret to the '
                          'operator tooling')
    else:
        keyring = Keyring(((DEFAULT_KEY_ID, _encode(secret)),))
    for key_id, data in keyring.keys:
        if len(data) < MIN_KEY_BYTES:
            raise MarkerError(REASON_NO_SECRET,
                              'operator secret%s is %d bytes; at least %d '
                              'random bytes are needed'
                              % ('' if key_id == DEFAULT_KEY_ID
                                 else ' ' + key_id, len(data),
                                 MIN_SECRET_BYTES))
    return keyring


def _secret_bytes(secret):
    return _keyring(secret).signing[1]


def estimated_bits(data):
    """A generous estimate of the randomness in *data*, in bits.

    Characters times the Shannon entropy of their distribution: what a
    random secret of that length could hold at most. Patterns ('aaaa',
    'abab', a word repeated) score low; a random hex or base64 string of
    32 bytes scores about its real strength.
    """
    if not data:
        return 0.0, 0.0
    counts = collections.Counter(data)
    per_char = -sum(n / len(data) * math.log2(n / len(data))
                    for n in counts.values())
    return per_char * len(data), per_char


def secret_problem(data):
    """Why *data* (bytes) is not a strong operator secret, or None."""
    if len(data) < MIN_SECRET_BYTES:
        return ('is %d bytes; at least %d random bytes are needed'
                % (len(data), MIN_SECRET_BYTES))
    bits, per_char = estimated_bits(data)
    if per_char < MIN_BITS_PER_CHARACTER:
        return ('does not look random (about %.1f bits per character, '
                'at least %.0f expected of random text)'
                % (per_char, MIN_BITS_PER_CHARACTER))
    return None


def check_secret(secret):
    """Raise ``MarkerError`` unless every key of *secret* is strong.

    At least ``MIN_SECRET_BYTES`` and no visible pattern. The driver checks
    it when it starts and the operator tooling before it contacts the
    cloud; generate one with ``python3 -c 'import secrets;
    print(secrets.token_hex(32))'``.
    """
    for key_id, data in _keyring(secret).keys:
        problem = secret_problem(data)
        if problem:
            raise MarkerError(
                REASON_NO_SECRET, 'operator secret%s %s; generate one with '
                "python3 -c 'import secrets; print(secrets.token_hex(32))'"
                % ('' if key_id == DEFAULT_KEY_ID else ' ' + key_id,
                   problem))


def read_secret_file(path):
    """The ``Keyring`` in *path*; refused if others may read or write it.

    :raises MarkerError: the file is missing, unreadable, open to its
        group or others, or holds no valid key.
    """
    try:
        mode = os.stat(path).st_mode
        if stat.S_IMODE(mode) & (stat.S_IRWXG | stat.S_IRWXO):
            raise MarkerError(
                REASON_NO_SECRET, 'operator secret file %s has mode %04o: '
                'its group or other users may read or change it; chmod '
                '600 %s' % (path, stat.S_IMODE(mode), path))
        with open(path, encoding='utf-8') as f:
            text = f.read()
    except OSError as e:
        raise MarkerError(REASON_NO_SECRET, 'cannot read the operator '
                          'secret file: %s' % e)
    return keyring_from_text(text)


def configured_keyring(operator_secret, operator_secret_file):
    """The keys of ``[migtuner] operator_secret``/``operator_secret_file``.

    :returns: a ``Keyring``, or None when neither is set.
    :raises MarkerError: both are set, or the file is refused.
    """
    if operator_secret and operator_secret_file:
        raise MarkerError(REASON_NO_SECRET, 'set [migtuner] operator_secret '
                          'or operator_secret_file, not both')
    if operator_secret_file:
        return read_secret_file(operator_secret_file)
    if operator_secret:
        return _keyring(operator_secret)
    return None


def _check_field(regex, value, what):
    if not isinstance(value, str) or not regex.match(value):
        raise MarkerError(REASON_MALFORMED, '%s %r is not allowed in a '
                          'marker' % (what, value))


def _mac(secret, instance_uuid, source_host, strategy, expires_at, nonce,
         key_id=None):
    for value, what in ((instance_uuid, 'instance uuid'),
                        (source_host, 'source host')):
        if not value or '\n' in str(value):
            raise MarkerError(REASON_MALFORMED, '%s %r cannot be signed'
                              % (what, value))
    fields = [_MAC_DOMAIN, str(instance_uuid).lower(), str(source_host),
              strategy, str(expires_at), nonce]
    if key_id is not None:
        fields.insert(1, 'key:' + key_id)
    message = '\n'.join(fields)
    return hmac.new(secret, message.encode('utf-8'),
                    hashlib.sha256).hexdigest()


def sign(secret, instance_uuid, strategy, ttl=DEFAULT_TTL_S, nonce=None, *,
         source_host, now=None):
    """Return the marker string choosing *strategy* for one migration.

    :param secret: ``[migtuner] operator_secret`` (str or bytes: a ``v1``
        marker) or a ``Keyring`` (its first key signs; a ``v2`` marker
        naming the key id, ``v1`` for the key id ``default``).
    :param instance_uuid: the server the marker is for.
    :param strategy: the strategy name the compute should use.
    :param ttl: seconds the marker stays valid; at most DEFAULT_MAX_TTL_S.
    :param nonce: unique per marker; a fresh random one when None.
    :param source_host: the compute host the server is on now; the marker
        is only accepted there.
    :param now: epoch seconds (tests); the current time when None.
    """
    key_id, key = _keyring(secret).signing
    key_id = None if key_id == DEFAULT_KEY_ID else key_id
    _check_field(_STRATEGY_RE, strategy, 'strategy')
    nonce = new_nonce() if nonce is None else nonce
    _check_field(_NONCE_RE, nonce, 'nonce')
    if not 0 < ttl <= DEFAULT_MAX_TTL_S:
        raise MarkerError(REASON_TOO_LONG, 'ttl %r s must be within 1..%d s'
                          % (ttl, DEFAULT_MAX_TTL_S))
    now = time.time() if now is None else now
    expires_at = int(now + ttl)
    signature = _mac(key, instance_uuid, source_host, strategy, expires_at,
                     nonce, key_id)
    return Marker(strategy, expires_at, nonce, signature,
                  key_id).to_string()


def parse(marker):
    """Split a marker string into a ``Marker``; no signature check."""
    if not isinstance(marker, str):
        raise MarkerError(REASON_MALFORMED, 'marker is not text')
    parts = marker.strip().split(':')
    key_id = None
    if len(parts) == 6 and parts[0] == VERSION_KEYED:
        key_id = parts.pop(1)
        _check_field(_KEY_ID_RE, key_id, 'key id')
    elif len(parts) != 5 or parts[0] != VERSION:
        raise MarkerError(REASON_MALFORMED,
                          'marker is not "%s:<strategy>:<expires>:<nonce>:'
                          '<signature>" or "%s:<key id>:<strategy>:...'
                          % (VERSION, VERSION_KEYED))
    _, strategy, expires, nonce, signature = parts
    _check_field(_STRATEGY_RE, strategy, 'strategy')
    _check_field(_NONCE_RE, nonce, 'nonce')
    if not expires.isdigit():
        raise MarkerError(REASON_MALFORMED, 'expiry %r is not an epoch '
                          'time' % expires)
    if not _SIG_RE.match(signature):
        raise MarkerError(REASON_MALFORMED, 'signature is not 64 hex '
                          'digits')
    return Marker(strategy, int(expires), nonce, signature, key_id)


def verify(secret, marker, instance_uuid, now=None, *, source_host,
           used_nonces=None, allowed_strategies=None,
           max_ttl=DEFAULT_MAX_TTL_S):
    """Return the strategy a valid marker chooses, or raise ``MarkerError``.

    Checks, in order: format, expiry, lifetime, signature (bound to
    *instance_uuid* and *source_host*), the strategy against
    *allowed_strategies*, and finally records the nonce in *used_nonces*,
    refusing a nonce seen before. The nonce is only recorded for markers
    that passed every other check, so forged markers cannot fill the store.

    :param secret: str or bytes (one key) or a ``Keyring``: a ``v2``
        marker is checked with the key it names, a ``v1`` marker with each.
    :param used_nonces: a ``NonceStore``; without one a marker is not
        protected against reuse (only for dry runs and tests). A store
        that fails refuses the marker (``REASON_NONCE_STORE``).
    """
    keyring = _keyring(secret)
    parsed = parse(marker)
    now = time.time() if now is None else now
    if parsed.expires_at <= now:
        raise MarkerError(REASON_EXPIRED, 'marker expired %.0f s ago'
                          % (now - parsed.expires_at))
    if parsed.expires_at - now > max_ttl + CLOCK_SKEW_S:
        raise MarkerError(REASON_TOO_LONG,
                          'marker is valid for %.0f s, more than the %d s '
                          'allowed' % (parsed.expires_at - now, max_ttl))
    if parsed.key_id is None:
        keys = [key for _, key in keyring.keys]
    else:
        keys = [keyring.get(parsed.key_id)]
        if keys[0] is None:
            raise MarkerError(REASON_UNKNOWN_KEY,
                              'marker is signed with key %r, which is not '
                              'configured; configured: %s'
                              % (parsed.key_id, ', '.join(
                                  k for k, _ in keyring.keys)))
    matches = [hmac.compare_digest(
        _mac(key, instance_uuid, source_host, parsed.strategy,
             parsed.expires_at, parsed.nonce, parsed.key_id),
        parsed.signature) for key in keys]
    if not any(matches):
        raise MarkerError(REASON_BAD_SIGNATURE,
                          'signature does not match: the marker was forged, '
                          'altered, signed with another secret, or is for '
                          'another instance or source host')
    if (allowed_strategies is not None and
            parsed.strategy not in allowed_strategies):
        raise MarkerError(REASON_STRATEGY_NOT_ALLOWED,
                          'strategy %r is not installed; available: %s'
                          % (parsed.strategy,
                             ', '.join(sorted(allowed_strategies))))
    if used_nonces is None:
        return parsed.strategy
    try:
        fresh = used_nonces.remember(parsed.nonce, parsed.expires_at, now)
    except Exception as e:
        # Without the store a replay cannot be told apart: refuse this
        # marker, and only it.
        raise MarkerError(REASON_NONCE_STORE, 'the store of used markers '
                          'failed (%s: %s); marker not used'
                          % (type(e).__name__, e))
    if not fresh:
        raise MarkerError(REASON_REUSED, 'marker was already used (nonce %s)'
                          % parsed.nonce)
    return parsed.strategy


@dataclasses.dataclass(frozen=True)
class MarkerDecision:
    """The outcome of ``take_from_metadata``.

    :ivar strategy: the operator's strategy, None without a valid marker.
    :ivar present: a marker was in the metadata (and has been removed).
    :ivar refused_reason: a REASON_* code when a marker was refused.
    """
    strategy: Optional[str] = None
    present: bool = False
    refused_reason: Optional[str] = None
    refused_message: Optional[str] = None


def take_from_metadata(metadata, secret, instance_uuid, source_host,
                       used_nonces, allowed_strategies=None, now=None,
                       max_ttl=DEFAULT_MAX_TTL_S):
    """Remove the marker from *metadata* and verify it: what the source
    compute calls once per live migration, before planning.

    *metadata* is a mutable mapping (``instance.metadata``); the caller
    saves the instance when ``present`` is true, so a marker is single-use
    even in the database. Never raises for a bad marker: a refused marker
    is reported in the decision and the migration goes on without it.
    """
    marker = metadata.pop(METADATA_KEY, None)
    if marker is None:
        return MarkerDecision()
    try:
        strategy = verify(secret, marker, instance_uuid, now,
                          source_host=source_host, used_nonces=used_nonces,
                          allowed_strategies=allowed_strategies,
                          max_ttl=max_ttl)
    except MarkerError as e:
        return MarkerDecision(present=True, refused_reason=e.reason,
                              refused_message=str(e))
    return MarkerDecision(strategy=strategy, present=True)


class FailedNonceStore:
    """Stands for a store that could not be opened: refuses every marker."""

    def __init__(self, error):
        self.error = error

    def remember(self, nonce, expires_at, now):
        raise self.error


class MemoryNonceStore:
    """Used nonces in memory: enough for one process, lost on restart."""

    def __init__(self):
        self._expiry_by_nonce = {}
        self._lock = threading.Lock()

    def remember(self, nonce, expires_at, now):
        """Record *nonce*; False if it was already recorded and not yet
        expired.
        """
        with self._lock:
            for old in [n for n, exp in self._expiry_by_nonce.items()
                        if exp <= now]:
                del self._expiry_by_nonce[old]
            if nonce in self._expiry_by_nonce:
                return False
            self._expiry_by_nonce[nonce] = expires_at
            return True

    def __len__(self):
        return len(self._expiry_by_nonce)


class SqliteNonceStore:
    """Used nonces in a SQLite file, so a restart of nova-compute does not
    make a used marker valid again. One file per compute host.
    """

    def __init__(self, path):
        self.path = path
        with self._connect() as db:
            db.execute('CREATE TABLE IF NOT EXISTS used_nonce ('
                       'nonce TEXT PRIMARY KEY, expires_at INTEGER NOT NULL)')

    def _connect(self):
        return sqlite3.connect(self.path, timeout=30)

    def remember(self, nonce, expires_at, now):
        db = self._connect()
        try:
            with db:
                db.execute('DELETE FROM used_nonce WHERE expires_at <= ?',
                           (now,))
                db.execute('INSERT INTO used_nonce (nonce, expires_at) '
                           'VALUES (?, ?)', (nonce, int(expires_at)))
            return True
        except sqlite3.IntegrityError:
            return False
        finally:
            db.close()

    def __len__(self):
        db = self._connect()
        try:
            return db.execute('SELECT COUNT(*) FROM used_nonce').fetchone()[0]
        finally:
            db.close()
