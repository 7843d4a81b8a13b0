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

from nova_migtuner.planning import links
from nova_migtuner.scheduler import rules
from nova_migtuner.scheduler import stats
from nova_migtuner import units

LIMITS = rules.AdmissionLimits(max_incoming_migrations=2, settle_s=30)
GBIT = units.parse_rate('1Gbit/s')


def test_admission_incoming_limit():
    assert rules.admission(1, None, LIMITS, now=1000).passes
    verdict = rules.admission(2, None, LIMITS, now=1000)
    assert not verdict.passes
    assert '2 incoming live migration(s) in flight; limit is 2' in \
        verdict.reason
    unlimited = rules.AdmissionLimits(max_incoming_migrations=0, settle_s=0)
    assert rules.admission(50, 999, unlimited, now=1000).passes


def test_admission_settle_time():
    verdict = rules.admission(0, 990.0, LIMITS, now=1000.0)
    assert not verdict.passes and 'ended 10 s ago' in verdict.reason
    assert rules.admission(0, 960.0, LIMITS, now=1000.0).passes
    # a clock skewed into the future is not a reason to refuse forever
    assert rules.admission(0, 1010.0, LIMITS, now=1000.0).passes


def test_unknown_facts_pass():
    assert rules.admission(None, None, LIMITS, now=0).passes


def agg(hosts, link_class=None):
    return links.AggregateView(
        tuple(hosts), {links.LINK_CLASS_KEY: link_class}
        if link_class else {})


def test_link_between_takes_fastest_shared_class():
    classes = {'rack': 25 * GBIT, 'pod': 10 * GBIT}
    aggregates = [agg(['src', 'dst'], 'pod'), agg(['src', 'dst'], 'rack'),
                  agg(['other', 'dst'], 'rack'), agg(['src', 'dst'])]
    assert links.link_between('src', aggregates, classes, GBIT) == (
        'rack', 25 * GBIT)
    assert links.link_between('far', aggregates, classes, GBIT) == (
        'default', GBIT)
    # an unknown class name falls back to the default
    assert links.link_between('src', [agg(['src'], 'wan')], classes,
                              GBIT) == ('default', GBIT)


def test_parse_link_classes_reports_bad_rates():
    classes, errors = links.parse_link_classes(
        {'rack': '25Gbit/s', 'bad': 'fast', 'zero': '0'})
    assert classes == {'rack': 25 * GBIT}
    assert len(errors) == 2 and any("'fast'" in e for e in errors)


def inputs(**kw):
    base = dict(memory_bytes=4 * units.GiB, link_class='default',
                link_bandwidth=GBIT, incoming_migrations=0, cpu_load=0.0,
                free_memory_bytes=64 * units.GiB,
                total_memory_bytes=64 * units.GiB, same_cpu_model=None)
    base.update(kw)
    return rules.CostInputs(**base)


def cost(**kw):
    return rules.migration_cost(inputs(**kw)).seconds


def test_cost_of_an_idle_empty_destination_is_the_copy_time():
    # 4 GiB over 125 MB/s, x (2 - headroom 15/16)
    expected = 4 * units.GiB / GBIT * (2 - 60 / 64)
    assert cost() == pytest.approx(expected)


@pytest.mark.parametrize('cheaper, dearer', [
    (dict(link_bandwidth=10 * GBIT), dict(link_bandwidth=GBIT)),
    (dict(incoming_migrations=0), dict(incoming_migrations=1)),
    (dict(cpu_load=0.1), dict(cpu_load=0.9)),
    (dict(cpu_load=0.1), dict(cpu_load=None)),
    (dict(free_memory_bytes=60 * units.GiB),
     dict(free_memory_bytes=8 * units.GiB)),
    (dict(free_memory_bytes=5 * units.GiB),
     dict(free_memory_bytes=3 * units.GiB)),
    (dict(same_cpu_model=True), dict(same_cpu_model=False)),
])
def test_cost_orders_each_factor(cheaper, dearer):
    assert cost(**cheaper) < cost(**dearer)


def test_guest_that_does_not_fit_is_penalised_beyond_a_full_host():
    full = cost(free_memory_bytes=4 * units.GiB)
    overcommitted = cost(free_memory_bytes=4 * units.GiB - 1)
    assert overcommitted > full * 1.9


def test_explain_names_every_factor():
    text = rules.migration_cost(inputs(same_cpu_model=True,
                                       cpu_load=None)).explain()
    for part in ('default link', 'CPU load unknown', 'memory headroom',
                 'same CPU model'):
        assert part in text


def test_stats_round_trip_and_tolerance():
    facts = stats.HostFacts(updated_at=12.5, virt_type='kvm', cpu_mode='',
                            cpu_models=('A', 'B'), cpu_fingerprint='ab12',
                            cpu_features_expanded=frozenset({'x', 'y'}),
                            cpu_load=0.25, incoming_migrations=1,
                            last_incoming_end=99.0, numa_nodes=2)
    encoded = stats.encode(facts)
    assert all(isinstance(v, str) for v in encoded.values())
    assert stats.decode(dict(encoded, uptime='123')) == facts
    assert stats.decode({'uptime': '1'}) is None
    broken = dict(encoded)
    broken[stats.INCOMING_MIGRATIONS] = 'lots'
    broken[stats.CPU_LOAD] = '-1'
    decoded = stats.decode(broken)
    assert decoded.incoming_migrations is None and decoded.cpu_load is None
    assert stats.decode(stats.encode(stats.HostFacts())) == stats.HostFacts()
