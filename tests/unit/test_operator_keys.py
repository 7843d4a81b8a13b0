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

"""Operator keys: strength, key ids for rotation, and a failing nonce store.
"""

import secrets
import sqlite3
import types

import pytest

from nova_migtuner.nova import operator_markers
from nova_migtuner import operator_marker as om

UUID = '8b1e6f8c-3c3a-4a55-9a8e-0f4f5a2d7c11'
NOW = 1_700_000_000.0
OLD = secrets.token_hex(32)
NEW = secrets.token_hex(32)


def _sign(secret, **kw):
    return om.sign(secret, UUID, 'fastest', ttl=600, source_host='c1',
                   now=NOW, **kw)


def _verify(secret, marker, **kw):
    return om.verify(secret, marker, UUID, now=NOW + 1, source_host='c1',
                     **kw)


def test_check_secret_wants_32_random_bytes():
    om.check_secret(secrets.token_hex(32))
    for weak in ('x' * 64, secrets.token_hex(15), 'ab' * 32):
        with pytest.raises(om.MarkerError) as exc:
            om.check_secret(weak)
        assert exc.value.reason == om.REASON_NO_SECRET
        assert 'token_hex(32)' in str(exc.value)


def test_two_keys_are_live_during_a_rotation():
    before = om.keyring_from_text('old %s\n' % OLD)
    during = om.keyring_from_text('new %s\nold %s\n' % (NEW, OLD))
    after = om.keyring_from_text('new %s\n' % NEW)
    signed_old = _sign(before)
    signed_new = _sign(during)
    assert signed_old.startswith('v2:old:')
    assert signed_new.startswith('v2:new:')
    # During the rotation the compute accepts both.
    assert _verify(during, signed_old) == 'fastest'
    assert _verify(during, signed_new) == 'fastest'
    # After it, the old key is gone and named as such.
    with pytest.raises(om.MarkerError) as exc:
        _verify(after, signed_old)
    assert exc.value.reason == om.REASON_UNKNOWN_KEY
    assert "'old'" in str(exc.value)


def test_key_id_is_signed():
    ring = om.keyring_from_text('a %s\nb %s\n' % (OLD, OLD))
    marker = _sign(ring)
    swapped = marker.replace('v2:a:', 'v2:b:', 1)
    with pytest.raises(om.MarkerError) as exc:
        _verify(ring, swapped)
    assert exc.value.reason == om.REASON_BAD_SIGNATURE


def test_a_v1_marker_of_a_bare_secret_verifies_with_a_keyring():
    marker = _sign(OLD, nonce='n' * 22)
    assert marker.startswith('v1:')
    ring = om.keyring_from_text('new %s\nold %s\n' % (NEW, OLD))
    assert _verify(ring, marker) == 'fastest'
    # A bare line in a file is the key id 'default' and signs v1.
    assert _sign(om.keyring_from_text(OLD + '\n'), nonce='n' * 22) == marker


def test_duplicate_or_bad_key_ids_are_refused():
    for text in ('a %s\na %s\n' % (OLD, NEW), 'bad:id %s\n' % OLD, '# \n'):
        with pytest.raises(om.MarkerError):
            om.keyring_from_text(text)


class _BrokenStore:
    def remember(self, nonce, expires_at, now):
        raise sqlite3.OperationalError('database is locked')


def test_nonce_store_error_refuses_the_marker_only():
    metadata = {om.METADATA_KEY: _sign(OLD)}
    decision = om.take_from_metadata(metadata, OLD, UUID, 'c1',
                                     _BrokenStore(), now=NOW + 1)
    assert decision.strategy is None and decision.present
    assert decision.refused_reason == om.REASON_NONCE_STORE
    assert 'database is locked' in decision.refused_message
    assert metadata == {}


class _Instance:
    uuid = UUID

    def __init__(self, marker):
        self.metadata = {om.METADATA_KEY: marker, 'other': 'kept'}
        self.saved = 0

    def save(self):
        self.saved += 1


def _conf(**mt):
    values = dict(operator_secret=OLD, operator_secret_file=None,
                  operator_nonce_db=None, operator_marker_max_ttl_s=3600)
    values.update(mt)
    return types.SimpleNamespace(migtuner=types.SimpleNamespace(**values),
                                 state_path='/nonexistent')


def test_compute_drops_the_marker_when_the_store_cannot_open(tmp_path):
    # A nonce db in a directory that does not exist cannot be opened.
    conf = _conf(operator_nonce_db=str(tmp_path / 'no' / 'such' / 'db'))
    markers = operator_markers.OperatorMarkers(lambda: conf)
    instance = _Instance(om.sign(OLD, UUID, 'fastest', source_host='c1'))
    assert markers.take_strategy(instance, 'c1') is None
    assert instance.metadata == {'other': 'kept'} and instance.saved == 1


def test_compute_drops_the_marker_with_a_refused_secret_file(tmp_path):
    path = tmp_path / 'secret'
    path.write_text(OLD)
    path.chmod(0o644)
    conf = _conf(operator_secret=None, operator_secret_file=str(path),
                 operator_nonce_db=str(tmp_path / 'n.db'))
    markers = operator_markers.OperatorMarkers(lambda: conf)
    instance = _Instance(om.sign(OLD, UUID, 'fastest', source_host='c1'))
    assert markers.take_strategy(instance, 'c1') is None
    assert instance.metadata == {'other': 'kept'} and instance.saved == 1
    path.chmod(0o600)
    instance = _Instance(om.sign(OLD, UUID, 'fastest', source_host='c1'))
    assert markers.take_strategy(instance, 'c1') == 'fastest'
