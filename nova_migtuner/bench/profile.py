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

"""An operator's own guest profile for the bench: ``--memory``, ``--link``
and ``--workload KIND:key=value,...``, read with the units of ``plan``.

``--workload`` takes a workload of the matrix by name, or a profile::

    idle[:buffer=SIZE][,requests=N]
    constant:rate=RATE[,buffer=SIZE][,requests=N]
    bursty:rate=RATE[,buffer=SIZE][,on=DURATION][,off=DURATION][,requests=N]

``rate`` is the rate at which the guest dirties memory (``150MiB/s``),
``buffer`` the memory it owns and dirties (``512MiB``), ``on``/``off`` the
burst pattern (``2s`` at the rate, then ``3s`` idle), ``requests`` the small
CPU-bound requests per second whose progress the bench measures,
``progress`` the period of the workload's progress lines (``100ms``; ``0``
with ``requests=0`` is the guest without the application measurements).
"""

import argparse
import hashlib
import re

from nova_migtuner.bench import workloads as wl_mod
from nova_migtuner.cmd import argtypes
from nova_migtuner.testbed import workload as workload_mod
from nova_migtuner import units

KEYS = {
    'idle': ('buffer', 'requests', 'progress'),
    'constant': ('rate', 'buffer', 'requests', 'progress'),
    'bursty': ('rate', 'buffer', 'on', 'off', 'requests', 'progress'),
}
SYNTAX = ('a workload of the matrix (%s) or KIND:key=value,... with KIND '
          'idle, constant or bursty and keys rate=RATE, buffer=SIZE, '
          'on=DURATION, off=DURATION, requests=N, progress=DURATION (e.g. '
          'constant:rate=150MiB/s,buffer=512MiB or '
          'bursty:rate=100MiB/s,buffer=256MiB,on=2s,off=3s)')
# The guest's kernel and initramfs need this much besides the buffer.
MIN_MEMORY_MIB = 128
_NAME_CHARS = re.compile(r'[^A-Za-z0-9_.-]+')


def _syntax():
    return SYNTAX % ', '.join(w.name for w in wl_mod.matrix())


def _fail(text, why, syntax=True):
    raise argparse.ArgumentTypeError(
        'workload %r %s%s' % (text, why, '; expected %s' % _syntax()
                              if syntax else ''))


def _whole_mib(value, text, what):
    if value % units.MiB:
        raise argparse.ArgumentTypeError(
            '%s %r is not a whole number of MiB; expected e.g. 512MiB or '
            '2GiB' % (what, text))
    return value // units.MiB


def memory(text):
    """``--memory``: the guest's memory in whole MiB."""
    mib = _whole_mib(argtypes.size(text), text, 'memory')
    if mib < MIN_MEMORY_MIB:
        raise argparse.ArgumentTypeError(
            'memory %r is below %d MiB, the least the test bed guest boots '
            'in; expected e.g. 512MiB or 2GiB' % (text, MIN_MEMORY_MIB))
    return mib


def sizes(text):
    """``--sizes``: guest memory sizes, 'SIZE,SIZE,...', each as
    ``--memory``, ascending.
    """
    found = [memory(part.strip()) for part in text.split(',') if
             part.strip()]
    if not found:
        raise argparse.ArgumentTypeError(
            'sizes %r name no size; expected e.g. 256MiB,1GiB,2GiB' % text)
    return tuple(sorted(set(found)))


def link(text):
    """``--link``: the migration bandwidth cap in whole MiB/s (libvirt's
    unit), at least 1 MiB/s.
    """
    mib_s = argtypes.rate(text) / units.MiB
    if mib_s < 1:
        raise argparse.ArgumentTypeError(
            'link %r is below 1 MiB/s, the least libvirt can cap a '
            'migration to; expected e.g. 32MiB/s or 1Gbit/s' % text)
    return int(mib_s)


def _value(text, key, raw):
    """One key's value in the Workload's own unit."""
    try:
        if key == 'rate':
            return argtypes.rate(raw) / units.MiB
        if key == 'buffer':
            size = argtypes.size(raw)
            return _whole_mib(size, raw, 'buffer')
        if key in ('on', 'off'):
            return argtypes.seconds(raw)
        if key == 'progress':
            return 0 if raw == '0' else argtypes.milliseconds(raw)
        number = raw[:-2] if raw.endswith('/s') else raw
        return float(number)
    except argparse.ArgumentTypeError as exc:
        _fail(text, 'has a bad %s: %s' % (key, exc), syntax=False)
    except ValueError:
        _fail(text, 'has a bad requests %r: expected a number of requests '
                    'per second, e.g. 100 or 100/s' % raw, syntax=False)


def parse(text):
    """A ``BenchWorkload`` from a matrix name or a profile (argparse type).
    """
    for known in wl_mod.matrix():
        if text == known.name:
            return known
    kind, sep, rest = text.partition(':')
    if kind not in KEYS and not sep:
        # A mistyped name: in argparse's words for a choice.
        raise argparse.ArgumentTypeError(
            'invalid choice: %r; expected %s' % (text, _syntax()))
    if kind not in KEYS:
        _fail(text, 'is neither a workload of the matrix nor of a known '
                    'kind')
    given = {}
    for item in filter(None, rest.split(',')) if sep else ():
        key, eq, raw = item.partition('=')
        key = key.strip()
        if not eq or not raw.strip():
            _fail(text, 'has %r without a value' % item)
        if key not in KEYS[kind]:
            _fail(text, 'has key %r, which a %s workload does not take '
                        '(it takes %s)' % (key, kind, ', '.join(KEYS[kind])))
        if key in given:
            _fail(text, 'gives %s twice' % key)
        given[key] = _value(text, key, raw.strip())
    if kind != 'idle' and 'rate' not in given:
        _fail(text, 'needs rate=RATE for a %s workload' % kind)
    fields = {'kind': kind,
              'dirty_mib': given.get('buffer', wl_mod.BUFFER_MIB
                                     if kind != 'idle' else 64),
              'rate_mib_s': given.get('rate', 0.0)}
    for key, field in (('on', 'burst_on_s'), ('off', 'burst_off_s'),
                       ('requests', 'request_rate'),
                       ('progress', 'progress_ms')):
        if key in given:
            fields[field] = given[key]
    try:
        workload = workload_mod.Workload(**fields)
    except ValueError as exc:
        _fail(text, 'is invalid: %s' % exc, syntax=False)
    return wl_mod.BenchWorkload(name_of(text), workload,
                                'profile %s' % text)


def name_of(text):
    """A name for a profile that guests and images can carry."""
    # Guest names ('bench-NAME-nova-best-static') have 63 characters.
    name = _NAME_CHARS.sub('-', text.replace(':', '-'))
    if len(name) > 28:
        name = '%s-%s' % (name[:20], hashlib.sha256(
            text.encode()).hexdigest()[:7])
    return 'profile-' + name


def check_fits(bench_workloads, memory_mib):
    """The first workload that does not fit in ``memory_mib``, as an error
    message, or None.
    """
    for w in bench_workloads:
        try:
            w.workload.validate_for_guest(memory_mib)
        except ValueError as exc:
            return 'workload %s (%s): %s; give more --memory or a ' \
                   'smaller buffer' % (w.name, w.description, exc)
    return None
