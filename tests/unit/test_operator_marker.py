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

import pytest

from nova_migtuner import operator_marker as om

SECRET = 'an operator secret of some length'
UUID = '8b1e6f8c-3c3a-4a55-9a8e-0f4f5a2d7c11'
OTHER_UUID = '1f0c2e55-9d0e-4d1e-8a3a-5b6b7c8d9e0f'
NOW = 1_700_000_000.0


def _sign(**kw):
    args = dict(secret=SECRET, instance_uuid=UUID, strategy='fastest',
                ttl=600, nonce='n' * 22, source_host='compute1', now=NOW)
    args.update(kw)
    return om.sign(**args)


def _verify(marker, **kw):
    args = dict(secret=SECRET, marker=marker, instance_uuid=UUID,
                now=NOW + 10, source_host='compute1')
    args.update(kw)
    return om.verify(**args)


def _reason(marker, **kw):
    with pytest.raises(om.MarkerError) as exc:
        _verify(marker, **kw)
    return exc.value.reason


def test_valid_marker_returns_its_strategy():
    assert _verify(_sign()) == 'fastest'


def test_marker_fits_in_a_nova_metadata_value():
    marker = _sign(strategy='s' * 64, nonce='n' * 64)
    assert len(marker) <= 255


def test_fresh_markers_have_distinct_nonces():
    a = om.sign(SECRET, UUID, 'fastest', source_host='h', now=NOW)
    b = om.sign(SECRET, UUID, 'fastest', source_host='h', now=NOW)
    assert om.parse(a).nonce != om.parse(b).nonce


@pytest.mark.parametrize('change', [
    lambda m: m.replace(':fastest:', ':balanced:'),
    lambda m: m.replace(':%d:' % (NOW + 600), ':%d:' % (NOW + 900)),
    lambda m: m.replace(':' + 'n' * 22 + ':', ':' + 'm' * 22 + ':'),
    lambda m: m[:-1] + ('0' if m[-1] != '0' else '1'),
])
def test_altered_marker_is_refused(change):
    marker = _sign()
    altered = change(marker)
    assert altered != marker
    assert _reason(altered) == om.REASON_BAD_SIGNATURE


def test_marker_for_another_instance_is_refused():
    assert _reason(_sign(), instance_uuid=OTHER_UUID) == \
        om.REASON_BAD_SIGNATURE


def test_marker_checked_on_another_host_is_refused():
    assert _reason(_sign(), source_host='compute2') == \
        om.REASON_BAD_SIGNATURE


def test_marker_signed_with_another_secret_is_refused():
    forged = _sign(secret='a tenant guessing the secret')
    assert _reason(forged) == om.REASON_BAD_SIGNATURE


def test_expired_marker_is_refused():
    assert _reason(_sign(), now=NOW + 600) == om.REASON_EXPIRED
    assert _verify(_sign(), now=NOW + 599) == 'fastest'


def test_marker_claiming_a_long_life_is_refused():
    # Only a secret holder could sign it, but the nonce store has to keep a
    # nonce for the marker's life: lifetimes are bounded on both sides.
    with pytest.raises(om.MarkerError) as exc:
        _sign(ttl=om.DEFAULT_MAX_TTL_S + 1)
    assert exc.value.reason == om.REASON_TOO_LONG
    marker = _sign(ttl=3600)
    assert _reason(marker, max_ttl=600) == om.REASON_TOO_LONG


@pytest.mark.parametrize('marker', [
    '', 'fastest', 'v2:fastest:1:' + 'n' * 22 + ':' + '0' * 64,
    'v1:fastest:soon:' + 'n' * 22 + ':' + '0' * 64,
    'v1:fas test:1700000600:' + 'n' * 22 + ':' + '0' * 64,
    'v1:fastest:1700000600:short:' + '0' * 64,
    'v1:fastest:1700000600:' + 'n' * 22 + ':XYZ',
])
def test_malformed_marker_is_refused(marker):
    assert _reason(marker) == om.REASON_MALFORMED


def test_reused_marker_is_refused():
    store = om.MemoryNonceStore()
    marker = _sign()
    assert _verify(marker, used_nonces=store) == 'fastest'
    assert _reason(marker, used_nonces=store) == om.REASON_REUSED


def test_forged_markers_do_not_fill_the_nonce_store():
    store = om.MemoryNonceStore()
    _reason(_sign(secret='x' * 20), used_nonces=store)
    assert len(store) == 0


def test_nonce_store_forgets_expired_nonces():
    store = om.MemoryNonceStore()
    assert store.remember('a' * 22, NOW + 5, NOW)
    assert not store.remember('a' * 22, NOW + 5, NOW + 1)
    assert store.remember('b' * 22, NOW + 20, NOW + 10)
    assert len(store) == 1


def test_sqlite_nonce_store_survives_a_restart(tmp_path):
    path = str(tmp_path / 'nonces.sqlite')
    marker = _sign()
    assert _verify(marker, used_nonces=om.SqliteNonceStore(path)) == \
        'fastest'
    # A new store object on the same file: what a restarted compute sees.
    assert _reason(marker, used_nonces=om.SqliteNonceStore(path)) == \
        om.REASON_REUSED


def test_strategy_not_installed_is_refused():
    assert _reason(_sign(), allowed_strategies={'balanced'}) == \
        om.REASON_STRATEGY_NOT_ALLOWED


@pytest.mark.parametrize('secret', [None, '', 'short'])
def test_missing_or_weak_secret_is_an_error(secret):
    with pytest.raises(om.MarkerError) as exc:
        _sign(secret=secret)
    assert exc.value.reason == om.REASON_NO_SECRET
    assert _reason(_sign(), secret=secret) == om.REASON_NO_SECRET


def test_take_from_metadata_removes_and_verifies_the_marker():
    store = om.MemoryNonceStore()
    metadata = {om.METADATA_KEY: _sign(), 'other': 'kept'}
    decision = om.take_from_metadata(metadata, SECRET, UUID, 'compute1',
                                     store, now=NOW + 1)
    assert decision == om.MarkerDecision(strategy='fastest', present=True)
    assert metadata == {'other': 'kept'}


def test_take_from_metadata_reports_a_forged_marker_without_raising():
    metadata = {om.METADATA_KEY: _sign(secret='not the real secret!')}
    decision = om.take_from_metadata(metadata, SECRET, UUID, 'compute1',
                                     om.MemoryNonceStore(), now=NOW + 1)
    assert decision.strategy is None and decision.present
    assert decision.refused_reason == om.REASON_BAD_SIGNATURE
    assert metadata == {}


def test_take_from_metadata_without_marker():
    assert om.take_from_metadata({}, SECRET, UUID, 'compute1',
                                 om.MemoryNonceStore()) == \
        om.MarkerDecision()
