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

The HMAC covers the strategy, the expiry and the nonce carried in the
marker, and the instance uuid and the source host that the verifier knows
itself. Hence a tenant who reads the marker (it is visible in their server's
metadata) cannot change the strategy, move it to another server, or use it
after it expires; the used-nonce store on the source compute refuses it a
second time, and the host binding refuses it on any other compute (where
that compute's store has never seen it) - e.g. after the server moved.

Pure code: no nova, no I/O except the optional SQLite nonce store.
"""

import dataclasses
import hashlib
import hmac
import re
import secrets
import sqlite3
import threading
import time
from typing import Optional

# Server metadata key the marker is stored under (nova allows 255 characters
# for a metadata value; a marker is at most ~170).
METADATA_KEY = 'migtuner_operator_marker'
VERSION = 'v1'
DEFAULT_TTL_S = 600
# Markers living longer than this are refused whatever they say: the nonce
# store has to remember a nonce until its marker expires.
DEFAULT_MAX_TTL_S = 3600
# Clocks of the operator's workstation and the computes differ a little.
CLOCK_SKEW_S = 60
MIN_SECRET_BYTES = 16

_STRATEGY_RE = re.compile(r'^[A-Za-z0-9_.-]{1,64}$')
_NONCE_RE = re.compile(r'^[A-Za-z0-9_-]{16,64}$')
_SIG_RE = re.compile(r'^[0-9a-f]{64}$')
_MAC_DOMAIN = 'nova_migtuner-operator-marker-v1'

# MarkerError.reason values: stable codes for logs and notifications.
REASON_NO_SECRET = 'no_secret'
REASON_MALFORMED = 'malformed'
REASON_EXPIRED = 'expired'
REASON_TOO_LONG = 'ttl_too_long'
REASON_BAD_SIGNATURE = 'bad_signature'
REASON_REUSED = 'reused'
REASON_STRATEGY_NOT_ALLOWED = 'strategy_not_allowed'


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

    def to_string(self):
        return ':'.join((VERSION, self.strategy, str(self.expires_at),
                         self.nonce, self.signature))


def new_nonce():
    return secrets.token_urlsafe(16)


def _secret_bytes(secret):
    if not secret:
        raise MarkerError(REASON_NO_SECRET,
                          'no operator secret configured: set [migtuner] '
                          'operator_secret on the computes and give the '
                          'same secret to the operator tooling')
    data = secret.encode('utf-8') if isinstance(secret, str) else secret
    if len(data) < MIN_SECRET_BYTES:
        raise MarkerError(REASON_NO_SECRET,
                          'operator secret is %d bytes; at least %d are '
                          'needed' % (len(data), MIN_SECRET_BYTES))
    return data


def check_secret(secret):
    """Raise ``MarkerError`` unless *secret* can sign markers.

    Lets the operator tooling refuse before it contacts the cloud.
    """
    _secret_bytes(secret)


def _check_field(regex, value, what):
    if not isinstance(value, str) or not regex.match(value):
        raise MarkerError(REASON_MALFORMED, '%s %r is not allowed in a '
                          'marker' % (what, value))


def _mac(secret, instance_uuid, source_host, strategy, expires_at, nonce):
    for value, what in ((instance_uuid, 'instance uuid'),
                        (source_host, 'source host')):
        if not value or '\n' in str(value):
            raise MarkerError(REASON_MALFORMED, '%s %r cannot be signed'
                              % (what, value))
    message = '\n'.join((_MAC_DOMAIN, str(instance_uuid).lower(),
                         str(source_host), strategy, str(expires_at), nonce))
    return hmac.new(secret, message.encode('utf-8'),
                    hashlib.sha256).hexdigest()


def sign(secret, instance_uuid, strategy, ttl=DEFAULT_TTL_S, nonce=None, *,
         source_host, now=None):
    """Return the marker string choosing *strategy* for one migration.

    :param secret: ``[migtuner] operator_secret`` (str or bytes).
    :param instance_uuid: the server the marker is for.
    :param strategy: the strategy name the compute should use.
    :param ttl: seconds the marker stays valid; at most DEFAULT_MAX_TTL_S.
    :param nonce: unique per marker; a fresh random one when None.
    :param source_host: the compute host the server is on now; the marker
        is only accepted there.
    :param now: epoch seconds (tests); the current time when None.
    """
    key = _secret_bytes(secret)
    _check_field(_STRATEGY_RE, strategy, 'strategy')
    nonce = new_nonce() if nonce is None else nonce
    _check_field(_NONCE_RE, nonce, 'nonce')
    if not 0 < ttl <= DEFAULT_MAX_TTL_S:
        raise MarkerError(REASON_TOO_LONG, 'ttl %r s must be within 1..%d s'
                          % (ttl, DEFAULT_MAX_TTL_S))
    now = time.time() if now is None else now
    expires_at = int(now + ttl)
    signature = _mac(key, instance_uuid, source_host, strategy, expires_at,
                     nonce)
    return Marker(strategy, expires_at, nonce, signature).to_string()


def parse(marker):
    """Split a marker string into a ``Marker``; no signature check."""
    if not isinstance(marker, str):
        raise MarkerError(REASON_MALFORMED, 'marker is not text')
    parts = marker.strip().split(':')
    if len(parts) != 5 or parts[0] != VERSION:
        raise MarkerError(REASON_MALFORMED,
                          'marker is not "%s:<strategy>:<expires>:<nonce>:'
                          '<signature>"' % VERSION)
    _, strategy, expires, nonce, signature = parts
    _check_field(_STRATEGY_RE, strategy, 'strategy')
    _check_field(_NONCE_RE, nonce, 'nonce')
    if not expires.isdigit():
        raise MarkerError(REASON_MALFORMED, 'expiry %r is not an epoch '
                          'time' % expires)
    if not _SIG_RE.match(signature):
        raise MarkerError(REASON_MALFORMED, 'signature is not 64 hex '
                          'digits')
    return Marker(strategy, int(expires), nonce, signature)


def verify(secret, marker, instance_uuid, now=None, *, source_host,
           used_nonces=None, allowed_strategies=None,
           max_ttl=DEFAULT_MAX_TTL_S):
    """Return the strategy a valid marker chooses, or raise ``MarkerError``.

    Checks, in order: format, expiry, lifetime, signature (bound to
    *instance_uuid* and *source_host*), the strategy against
    *allowed_strategies*, and finally records the nonce in *used_nonces*,
    refusing a nonce seen before. The nonce is only recorded for markers
    that passed every other check, so forged markers cannot fill the store.

    :param used_nonces: a ``NonceStore``; without one a marker is not
        protected against reuse (only for dry runs and tests).
    """
    key = _secret_bytes(secret)
    parsed = parse(marker)
    now = time.time() if now is None else now
    if parsed.expires_at <= now:
        raise MarkerError(REASON_EXPIRED, 'marker expired %.0f s ago'
                          % (now - parsed.expires_at))
    if parsed.expires_at - now > max_ttl + CLOCK_SKEW_S:
        raise MarkerError(REASON_TOO_LONG,
                          'marker is valid for %.0f s, more than the %d s '
                          'allowed' % (parsed.expires_at - now, max_ttl))
    expected = _mac(key, instance_uuid, source_host, parsed.strategy,
                    parsed.expires_at, parsed.nonce)
    if not hmac.compare_digest(expected, parsed.signature):
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
    if used_nonces is not None and not used_nonces.remember(
            parsed.nonce, parsed.expires_at, now):
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
