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

"""Which link a live migration crosses: link classes of host aggregates.

An aggregate with metadata ``migtuner_link_class=<class>`` says its hosts
reach each other over that class of link; ``[migtuner] link_classes`` maps
class names to rates. The weigher ranks destinations with it and the
source compute plans with the class of the destination it was given.
Pure.
"""

import dataclasses
from typing import Mapping, Tuple

from nova_migtuner import units

LINK_CLASS_KEY = 'migtuner_link_class'
DEFAULT_LINK_CLASS = 'default'


@dataclasses.dataclass(frozen=True)
class AggregateView:
    """The part of a host aggregate the link rule needs."""
    hosts: Tuple[str, ...]
    metadata: Mapping[str, str]


def link_between(source_host, destination_aggregates, link_classes,
                 default_bandwidth):
    """Bandwidth class of the link from *source_host* to a destination.

    An aggregate with metadata ``migtuner_link_class=<class>`` says its hosts
    reach each other over that class of link (``[migtuner] link_classes``
    maps class names to rates). Source and destination are connected by the
    fastest class of the aggregates they share; with none, by the default.

    :param destination_aggregates: ``AggregateView`` of each aggregate the
        destination is in.
    :param link_classes: class name -> bytes per second.
    :returns: (class name, bytes per second).
    """
    best = (DEFAULT_LINK_CLASS, default_bandwidth)
    for aggregate in destination_aggregates:
        name = aggregate.metadata.get(LINK_CLASS_KEY)
        if not name or source_host not in aggregate.hosts:
            continue
        rate = link_classes.get(name)
        if rate is not None and rate > best[1]:
            best = (name, rate)
    return best


def parse_link_classes(raw, parse_rate=units.parse_rate):
    """``{'rack': '25Gbit/s'}`` -> ({'rack': 3.125e9}, [errors])."""
    classes = {}
    errors = []
    for name, text in sorted((raw or {}).items()):
        try:
            rate = parse_rate(text, what='link class %s' % name)
        except units.UnitError as e:
            errors.append(str(e))
            continue
        if rate <= 0:
            errors.append('link class %s=%r must be above zero'
                          % (name, text))
            continue
        classes[name] = rate
    return classes, errors
