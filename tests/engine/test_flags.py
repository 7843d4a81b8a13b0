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

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
import types

import libvirt
import pytest

from nova_migtuner.engine import flags
from nova_migtuner.planning import plan as P
from tests.engine.plans import make_plan

BASE = libvirt.VIR_MIGRATE_PEER2PEER | libvirt.VIR_MIGRATE_UNDEFINE_SOURCE


def test_plan_flags_replace_tuning_flags_and_keep_the_rest():
    base = BASE | libvirt.VIR_MIGRATE_AUTO_CONVERGE | libvirt.VIR_MIGRATE_LIVE
    plan = make_plan(flags=(P.LIVE, P.POSTCOPY))
    result = flags.libvirt_flags(plan, base, libvirt)
    assert result == (BASE | libvirt.VIR_MIGRATE_LIVE |
                      libvirt.VIR_MIGRATE_POSTCOPY)


def test_plan_without_live_clears_live_from_base():
    plan = make_plan(flags=())
    result = flags.libvirt_flags(plan, BASE | libvirt.VIR_MIGRATE_LIVE,
                                 libvirt)
    assert result == BASE


def test_every_tuning_flag_maps_to_its_libvirt_bit():
    plan = make_plan(flags=P.TUNING_FLAGS)
    result = flags.libvirt_flags(plan, 0, libvirt)
    for name in P.TUNING_FLAGS:
        assert result & getattr(libvirt, name)
    assert set(flags.flag_names(result, libvirt)) == set(P.TUNING_FLAGS)


def test_flag_missing_from_module_is_an_error_not_a_silent_drop():
    # Like nova's fake libvirt: no VIR_MIGRATE_COMPRESSED.
    fake = types.SimpleNamespace(VIR_MIGRATE_LIVE=1,
                                 VIR_MIGRATE_PEER2PEER=2,
                                 VIR_MIGRATE_POSTCOPY=32768)
    ok = flags.libvirt_flags(make_plan(flags=(P.LIVE,)), 2 | 32768, fake)
    assert ok == 1 | 2
    with pytest.raises(flags.UnsupportedFlagError, match='COMPRESSED'):
        flags.libvirt_flags(make_plan(flags=(P.LIVE, P.COMPRESSED)), 2, fake)


def test_nova_fake_libvirt_module_works():
    # In a subprocess: importing nova.tests monkey-patches the process with
    # eventlet, which would turn the real-libvirt tests' threads green.
    pytest.importorskip('nova')
    code = textwrap.dedent("""
        import json
        from nova.tests.fixtures import libvirt as fakelibvirt
        from nova_migtuner.engine import flags
        from nova_migtuner.planning import plan as P
        from tests.engine.plans import make_plan
        plan = make_plan(flags=(P.LIVE, P.AUTO_CONVERGE))
        result = flags.libvirt_flags(
            plan, fakelibvirt.VIR_MIGRATE_PEER2PEER, fakelibvirt)
        expected = (fakelibvirt.VIR_MIGRATE_PEER2PEER |
                    fakelibvirt.VIR_MIGRATE_LIVE |
                    fakelibvirt.VIR_MIGRATE_AUTO_CONVERGE)
        print(json.dumps([result == expected,
                          flags.migration_params(plan, {}, fakelibvirt)]))
    """)
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, check=True,
                         cwd=os.path.dirname(os.path.dirname(
                             os.path.dirname(os.path.abspath(__file__)))))
    same_flags, params = json.loads(out.stdout.strip().splitlines()[-1])
    assert same_flags
    assert params == {'bandwidth': 32}


def test_params_add_bandwidth_parallel_compression_keep_base():
    base = {libvirt.VIR_MIGRATE_PARAM_URI: 'tcp://127.0.0.1'}
    plan = make_plan(bandwidth_mib_s=32, parallel_connections=4,
                     compression=P.COMPRESSION_XBZRLE,
                     flags=(P.LIVE, P.PARALLEL, P.COMPRESSED))
    params = flags.migration_params(plan, base, libvirt)
    assert params == {
        libvirt.VIR_MIGRATE_PARAM_URI: 'tcp://127.0.0.1',
        libvirt.VIR_MIGRATE_PARAM_BANDWIDTH: 32,
        libvirt.VIR_MIGRATE_PARAM_PARALLEL_CONNECTIONS: 4,
        libvirt.VIR_MIGRATE_PARAM_COMPRESSION: 'xbzrle',
    }
    assert base == {libvirt.VIR_MIGRATE_PARAM_URI: 'tcp://127.0.0.1'}


def test_params_single_connection_and_no_compression_are_not_sent():
    base = {libvirt.VIR_MIGRATE_PARAM_PARALLEL_CONNECTIONS: 8,
            libvirt.VIR_MIGRATE_PARAM_COMPRESSION: 'mt'}
    params = flags.migration_params(make_plan(bandwidth_mib_s=0), base,
                                    libvirt)
    assert params == {}


def test_unlimited_plan_keeps_a_cap_set_by_the_caller():
    base = {libvirt.VIR_MIGRATE_PARAM_BANDWIDTH: 100}
    assert flags.migration_params(make_plan(bandwidth_mib_s=0), base,
                                  libvirt) == base
    assert flags.migration_params(make_plan(bandwidth_mib_s=32), base,
                                  libvirt) == {
        libvirt.VIR_MIGRATE_PARAM_BANDWIDTH: 32}


def test_bandwidth_cap_also_caps_the_post_copy_phase():
    plan = make_plan(flags=(P.LIVE, P.POSTCOPY), bandwidth_mib_s=32)
    params = flags.migration_params(plan, {}, libvirt)
    assert params == {libvirt.VIR_MIGRATE_PARAM_BANDWIDTH: 32,
                      libvirt.VIR_MIGRATE_PARAM_BANDWIDTH_POSTCOPY: 32}
    no_post = flags.migration_params(make_plan(bandwidth_mib_s=32), {},
                                     libvirt)
    assert libvirt.VIR_MIGRATE_PARAM_BANDWIDTH_POSTCOPY not in no_post


def test_params_carry_the_plans_auto_converge_throttle_steps():
    plan = dataclasses.replace(
        make_plan(flags=(P.LIVE, P.AUTO_CONVERGE)),
        auto_converge_initial_pct=40, auto_converge_increment_pct=20)
    params = flags.migration_params(plan, {}, libvirt)
    assert params[libvirt.VIR_MIGRATE_PARAM_AUTO_CONVERGE_INITIAL] == 40
    assert params[libvirt.VIR_MIGRATE_PARAM_AUTO_CONVERGE_INCREMENT] == 20
    assert libvirt.VIR_MIGRATE_PARAM_AUTO_CONVERGE_INITIAL == \
        'auto_converge.initial'


def test_params_leave_qemus_steps_without_auto_converge_or_a_choice():
    base = {'auto_converge.initial': 50}
    chosen = dataclasses.replace(make_plan(flags=(P.LIVE,)),
                                 auto_converge_initial_pct=40,
                                 auto_converge_increment_pct=20)
    assert 'auto_converge.initial' not in flags.migration_params(
        chosen, base, libvirt)
    unchosen = make_plan(flags=(P.LIVE, P.AUTO_CONVERGE))
    params = flags.migration_params(unchosen, {}, libvirt)
    assert 'auto_converge.initial' not in params
    assert 'auto_converge.increment' not in params


def test_fake_libvirt_gets_the_literal_throttle_step_names():
    plan = dataclasses.replace(
        make_plan(flags=(P.LIVE, P.AUTO_CONVERGE)),
        auto_converge_initial_pct=30, auto_converge_increment_pct=10)
    params = flags.migration_params(plan, {}, types.SimpleNamespace())
    assert params['auto_converge.initial'] == 30
    assert params['auto_converge.increment'] == 10


@pytest.mark.parametrize('value', [0, 100, 20.5, '20'])
def test_plan_refuses_bad_throttle_steps(value):
    with pytest.raises(ValueError, match='auto_converge_initial_pct'):
        dataclasses.replace(make_plan(), auto_converge_initial_pct=value)
