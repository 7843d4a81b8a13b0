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

"""Services refuse to start with a [migtuner] configuration they cannot use.
"""

import os
import secrets

from oslo_config import cfg
from oslo_config import fixture as config_fixture
import pytest

import nova_migtuner.conf
from nova_migtuner.conf import migtuner as mt_opts
from nova_migtuner.conf import startup
from nova_migtuner.scheduler import filters
from nova_migtuner.scheduler import weights

INSTALLED = ('balanced', 'conservative', 'fastest', 'min_downtime')
STRONG = secrets.token_hex(32)


@pytest.fixture
def conf():
    c = cfg.ConfigOpts()
    mt_opts.register_opts(c)
    c([], project='test', default_config_files=[])
    # The option group object is shared between ConfigOpts: start from and
    # leave the defaults.
    _clear(c)
    yield c
    _clear(c)


def _clear(c):
    for opt in mt_opts.ALL_OPTS:
        c.clear_override(opt.dest, mt_opts.GROUP_NAME)


def _file_conf(tmp_path, text):
    path = tmp_path / 'nova.conf'
    path.write_text('[migtuner]\n' + text + '\n')
    c = cfg.ConfigOpts()
    mt_opts.register_opts(c)
    c(['--config-file', str(path)], project='test',
      default_config_files=[])
    return c


def test_defaults_pass(conf):
    assert startup.problems(conf, INSTALLED, secrets=True) == []


def test_default_strategy_typo_is_refused(conf):
    conf.set_override('default_strategy', 'balancd', 'migtuner')
    found = startup.problems(conf, INSTALLED)
    assert len(found) == 1
    assert "default_strategy 'balancd' is not an installed" in found[0]
    assert 'installed: balanced, conservative' in found[0]


def test_unknown_tenant_strategy_is_refused_not_dropped(conf):
    conf.set_override('tenant_strategies', ['balanced', 'turbo'],
                      'migtuner')
    found = startup.problems(conf, INSTALLED)
    assert found and "tenant_strategies names 'turbo'" in found[0]


def test_bad_value_in_a_file_is_found_at_start(tmp_path):
    c = _file_conf(tmp_path, 'max_downtime_ms = 5')
    found = startup.problems(c, INSTALLED)
    assert len(found) == 1 and 'max_downtime_ms' in found[0]


def test_check_service_raises_a_clear_message(conf):
    conf.set_override('default_strategy', 'nope', 'migtuner')
    with pytest.raises(startup.ConfigurationError) as exc:
        startup.check_service('MigTunerDriver', conf, INSTALLED)
    assert str(exc.value).startswith('MigTunerDriver refuses to start: ')
    assert "'nope'" in str(exc.value)


@pytest.fixture
def global_conf():
    fixture = config_fixture.Config(nova_migtuner.conf.CONF)
    fixture.setUp()
    yield fixture
    fixture.cleanUp()


@pytest.mark.parametrize('cls', [filters.MigTunerFilter,
                                 weights.MigTunerWeigher])
def test_filter_and_weigher_refuse_to_start(global_conf, cls):
    global_conf.config(default_strategy='balancd', group='migtuner')
    with pytest.raises(startup.ConfigurationError) as exc:
        cls()
    assert cls.__name__ in str(exc.value)
    global_conf.config(default_strategy='balanced', group='migtuner')
    cls()


# -- the operator secret ---------------------------------------------------


@pytest.mark.parametrize('secret', [
    'x' * 40,                                   # no randomness
    secrets.token_hex(8),                       # 16 characters
    'an operator secret of some length'[:31],   # short
    'abcd' * 10,                                # a pattern
])
def test_weak_operator_secret_is_refused_at_driver_start(conf, secret):
    conf.set_override('operator_secret', secret, 'migtuner')
    found = startup.problems(conf, INSTALLED, secrets=True)
    assert len(found) == 1 and 'operator secret' in found[0]
    # The scheduler does not use it.
    assert startup.problems(conf, INSTALLED) == []


@pytest.mark.parametrize('secret', [secrets.token_hex(32),
                                    secrets.token_urlsafe(32),
                                    secrets.token_hex(16)])
def test_random_secrets_of_32_bytes_pass(conf, secret):
    conf.set_override('operator_secret', secret, 'migtuner')
    assert startup.problems(conf, INSTALLED, secrets=True) == []


def _secret_file(tmp_path, text, mode=0o600):
    path = tmp_path / 'operator_secret'
    path.write_text(text)
    os.chmod(path, mode)
    return str(path)


@pytest.mark.parametrize('mode', [0o640, 0o604, 0o660, 0o620])
def test_secret_file_open_to_group_or_others_is_refused(conf, tmp_path,
                                                        mode):
    conf.set_override('operator_secret_file',
                      _secret_file(tmp_path, STRONG, mode), 'migtuner')
    found = startup.problems(conf, INSTALLED, secrets=True)
    assert len(found) == 1 and 'chmod 600' in found[0]
    assert '%04o' % mode in found[0]


def test_secret_file_with_two_keys_passes(conf, tmp_path):
    text = '# rotation\nnew %s\nold %s\n' % (STRONG, secrets.token_hex(32))
    conf.set_override('operator_secret_file',
                      _secret_file(tmp_path, text, 0o400), 'migtuner')
    assert startup.problems(conf, INSTALLED, secrets=True) == []


def test_secret_and_secret_file_together_are_refused(conf, tmp_path):
    conf.set_override('operator_secret', STRONG, 'migtuner')
    conf.set_override('operator_secret_file',
                      _secret_file(tmp_path, STRONG), 'migtuner')
    found = startup.problems(conf, INSTALLED, secrets=True)
    assert found and 'not both' in found[0]


def test_missing_secret_file_is_refused(conf, tmp_path):
    conf.set_override('operator_secret_file', str(tmp_path / 'none'),
                      'migtuner')
    found = startup.problems(conf, INSTALLED, secrets=True)
    assert found and 'cannot read the operator secret file' in found[0]
