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

"""Options of the ``[migtuner]`` group."""

from oslo_config import cfg
from oslo_config import types

from nova_migtuner import units

GROUP_NAME = 'migtuner'
MEASURE = 'measure'

migtuner_group = cfg.OptGroup(
    GROUP_NAME,
    title='nova_migtuner options',
    help="""
Options of nova_migtuner, which chooses per live migration the libvirt flags,
downtime and bandwidth limits, escalation ladder and start time from the
measured load of the guest and the hosts, and reports each migration's
measured downtime and bytes in a versioned notification.

These options are read on the compute hosts (the driver) and, for the
scheduler filter and weigher, on the scheduler hosts.
""")


# Per-guest settings an image property may carry (``policy.SPECS``).
IMAGE_SETTABLE_KEYS = ('strategy', 'max_downtime_ms', 'permit_post_copy',
                       'permit_auto_converge')


class LinkBandwidthType(types.String):
    """``measure`` or a rate such as ``10Gbit/s`` or ``1100MB/s``."""

    def __init__(self):
        super().__init__(type_name='link bandwidth')

    def __call__(self, value):
        value = super().__call__(value).strip()
        if value.lower() == MEASURE:
            return MEASURE
        try:
            rate = units.parse_rate(value, what='link_bandwidth')
        except units.UnitError as e:
            raise ValueError('%s, or "measure"' % e)
        if rate <= 0:
            raise ValueError('link_bandwidth %r must be above zero, or '
                             '"measure"' % value)
        return value

    def _formatter(self, value):
        return str(value)


ALL_OPTS = [
    cfg.BoolOpt(
        'enabled',
        default=True,
        help="""
Tune live migrations on this compute host.

When false, the migtuner driver behaves exactly like nova's libvirt driver
(measurements and notifications are still emitted when
``report_when_disabled`` is true).

Related options:

* ``report_when_disabled``
"""),
    cfg.BoolOpt(
        'report_when_disabled',
        default=True,
        help="""
Emit the measured ``migtuner.live_migration.end`` notification also for
migrations that were not tuned (``enabled = false``), so a cloud can compare
stock and tuned migrations.
"""),
    cfg.StrOpt(
        'default_strategy',
        default='balanced',
        help="""
Strategy used when neither the flavor nor the image names one.

Possible values:

* ``balanced``: live pre-copy, downtime raised step by step up to the cap,
  auto-converge when the guest dirties memory too fast, post-copy only when
  permitted and stalled, abort at the deadline.
* ``min_downtime``: smallest pause first; throttles the guest and, where
  permitted, uses post-copy rather than raising the downtime.
* ``fastest``: shortest total time; post-copy after the first pass where
  permitted, otherwise the downtime cap from the start with auto-converge.
* ``conservative``: never post-copy and never pause; refuses to start a
  migration that is predicted not to converge.
* any other strategy installed in the ``nova_migtuner.strategies`` entry
  point namespace.

The name must be an installed strategy: the driver, the scheduler filter and
the weigher refuse to start otherwise (``nova-migtuner check`` says so
before a restart).

Related options:

* ``tenant_strategies``
"""),
    cfg.ListOpt(
        'tenant_strategies',
        default=['balanced', 'min_downtime'],
        item_type=types.String(),
        help="""
Strategies that an image property ``migtuner_strategy`` may select. Images
are owned by tenants, so this list keeps them from choosing, for example,
post-copy-first migrations, or ``conservative``, which refuses a migration
predicted not to converge and so makes the server hard to move. Flavor
extra specs are set by admins and may name any installed strategy.

Every name must be an installed strategy: the driver, the scheduler filter
and the weigher refuse to start otherwise. The image property is read only
when ``strategy`` is in ``image_settable_keys``.

Related options:

* ``default_strategy``
* ``image_settable_keys``
"""),
    cfg.ListOpt(
        'image_settable_keys',
        default=['strategy', 'max_downtime_ms', 'permit_post_copy'],
        item_type=types.String(choices=IMAGE_SETTABLE_KEYS),
        help="""
The per-guest settings a tenant may choose with an image property
``migtuner_<key>``. Images belong to tenants, and some wishes make a server
hard to move: ``permit_auto_converge=false`` keeps a busy guest from
converging, a tiny ``max_downtime_ms`` can keep any guest from converging.
Flavor extra specs (``migtuner:<key>``, set by admins) are not limited by
this list. An image property that is not listed, or whose value is bad, is
ignored for that key only; the log and the ``explain`` of the
``migtuner.live_migration.start`` notification say why.

Possible values:

* ``strategy`` (limited further by ``tenant_strategies``)
* ``max_downtime_ms`` (raised to ``image_downtime_floor_ms`` if lower)
* ``permit_post_copy``
* ``permit_auto_converge``

Related options:

* ``tenant_strategies``
* ``image_downtime_floor_ms``
"""),
    cfg.IntOpt(
        'image_downtime_floor_ms',
        default=100,
        min=10,
        max=60000,
        help="""
Smallest downtime cap, in milliseconds, that an image property
``migtuner_max_downtime_ms`` may ask for. A lower wish is raised to this
floor (logged and explained in the ``.start`` notification), so that a
tenant cannot make its server's migrations unable to converge. Flavor extra
specs (set by admins) are not limited by the floor; ``max_downtime_ms``
still caps every wish.

Related options:

* ``image_settable_keys``
* ``max_downtime_ms``
"""),
    cfg.IntOpt(
        'max_downtime_ms',
        default=500,
        min=10,
        max=60000,
        help="""
Largest downtime, in milliseconds, that a migration may be given. This caps
every strategy and every guest wish (``migtuner:max_downtime_ms``). It is
the QEMU switch-over limit (``virDomainMigrateSetMaxDowntime``), so the
pause a guest sees is about this value or less.

Related options:

* ``max_pause_downtime_ms``
"""),
    cfg.Opt(
        'link_bandwidth',
        type=LinkBandwidthType(),
        default='1Gbit/s',
        help="""
Bandwidth of the migration network between computes, used to predict each
migration, as a rate (``10Gbit/s``, ``1100MB/s``, ``900MiB/s``) or
``measure``.

With ``measure`` the driver uses the bandwidth observed during the previous
migrations from this host that had the link to themselves (and the
configured value of ``1Gbit/s`` until one has completed): a migration that
shared the link measured only its share.

Every plan divides this bandwidth among the migrations in flight from the
host: a migration that starts while two others run plans with a third.

Related options:

* ``max_bandwidth_mib_s``
"""),
    cfg.IntOpt(
        'max_bandwidth_mib_s',
        default=0,
        min=0,
        max=1048576,
        help="""
Cap on the bandwidth a migration may use, in MiB/s (libvirt's unit). 0 means
no cap. Nova's ``[libvirt] live_migration_bandwidth`` is applied too when it
is lower.
"""),
    cfg.BoolOpt(
        'permit_post_copy',
        default=True,
        help="""
Whether a plan may switch a migration to post-copy. Post-copy finishes any
migration in bounded time but, while it runs, a failure of either host or of
the network loses the guest.

This is never more permissive than nova: post-copy is used only when this
option AND ``[libvirt] live_migration_permit_post_copy`` are true (and the
flavor does not set ``migtuner:permit_post_copy=false``).
"""),
    cfg.BoolOpt(
        'permit_auto_converge',
        default=True,
        help="""
Whether a plan may throttle the guest's vCPUs (QEMU auto-converge) so that a
busy guest's migration converges.

This is never more permissive than nova: auto-converge is used only when this
option AND ``[libvirt] live_migration_permit_auto_converge`` (nova's default:
false) are true, and the flavor does not set
``migtuner:permit_auto_converge=false``.

Related options:

* ``[libvirt] live_migration_permit_auto_converge``
"""),
    cfg.BoolOpt(
        'permit_pause',
        default=False,
        help="""
Whether a plan may pause the guest to finish a migration at its deadline.
Pausing is allowed only when the predicted pause is at most
``max_pause_downtime_ms``; a guest is never paused for minutes (a paused
32 GiB migration over 1 Gbit/s stops the guest for about 5 minutes). If the
migration link dies during the pause the guest stays paused until the link
is back or the kernel gives up on the connection: libvirt resumes no guest
while its migration job lasts, and QEMU carries out an abort only once the
link is back.

Related options:

* ``max_pause_downtime_ms``
"""),
    cfg.IntOpt(
        'max_pause_downtime_ms',
        default=2000,
        min=10,
        max=600000,
        help="""
Longest predicted pause, in milliseconds, for which ``permit_pause`` may be
used as the deadline action.
"""),
    cfg.BoolOpt(
        'permit_compression',
        default=False,
        help="""
Whether a plan may use XBZRLE compression (VIR_MIGRATE_COMPRESSED). It costs
CPU on both hosts and pays off for guests that rewrite parts of the same
pages; it is only chosen when the source host has CPU to spare.
"""),
    cfg.IntOpt(
        'max_parallel_connections',
        default=4,
        min=1,
        max=32,
        help="""
Most parallel migration connections (VIR_MIGRATE_PARALLEL) a plan may use.
Several connections are only used on links faster than one connection can
fill (above 10 Gbit/s). 1 disables parallel migration.
"""),
    cfg.IntOpt(
        'completion_budget_per_gib_s',
        default=120,
        min=1,
        max=100000,
        help="""
Time budget, in seconds per GiB of guest memory, after which a migration's
deadline action is taken (abort, or post-copy/pause where the strategy and
the permissions allow). A 4 GiB guest with the default gets 480 s.
Compare nova's ``[libvirt] live_migration_completion_timeout`` (800 s/GiB).
"""),
    cfg.IntOpt(
        'stall_window_s',
        default=10,
        min=1,
        max=3600,
        help="""
Seconds during which the remaining memory must fall before a migration
counts as stalled and the next escalation step is taken.
"""),
    cfg.FloatOpt(
        'monitor_interval_s',
        default=0.5,
        min=0.05,
        max=10.0,
        deprecated_for_removal=True,
        deprecated_reason="""
Inside nova the plan is applied at every poll of nova's own live-migration
monitor, which reads the job statistics every 0.5 s; this option was never
read there and has no effect.
""",
        help="""
Has no effect: the plan is applied at every poll of nova's live-migration
monitor (every 0.5 s).
"""),
    cfg.IntOpt(
        'dirty_rate_calc_s',
        default=1,
        min=0,
        max=60,
        help="""
Seconds over which the guest's dirty rate is measured before a migration
(virDomainStartDirtyRateCalc). 0 skips the measurement and the first
pre-copy round is used instead.
"""),
    cfg.IntOpt(
        'quiet_window_sampling_s',
        default=0,
        min=0,
        max=600,
        help="""
Seconds of consecutive dirty-rate samples (one every ``dirty_rate_calc_s``)
taken before a migration to find the guest's bursts and quiet periods. When
a guest's load comes in bursts, the migration starts as a quiet period long
enough for it begins, or waits for the next one, at most
``max_deferral_s``, re-sampling while it waits. 0 (the default) takes one
sample and never times into quiet windows. The sampling blocks the
migration for this long: choose a window that spans a few of the guest's
bursts.

Related options:

* ``dirty_rate_calc_s`` (must be > 0), ``max_deferral_s``
"""),
    cfg.IntOpt(
        'max_deferral_s',
        default=120,
        min=0,
        max=86400,
        help="""
Longest time, in seconds, a migration may wait for a quieter moment (host
load below ``busy_host_cpu_load``, a guest whose migration is predicted to
converge) or for the spacing below. 0 never waits, and a migration that
would have to wait for the spacing is refused. The migration is already
'running' in nova while it waits; aborting it then works, and
``openstack server migration force complete`` starts it at once.

Related options:

* ``instance_spacing_s``, ``host_spacing_s``, ``busy_host_cpu_load``
"""),
    cfg.IntOpt(
        'instance_spacing_s',
        default=60,
        min=0,
        max=86400,
        help="""
Minimum seconds between two migrations of the same instance, so that its
application returns to normal between them (two migrations close together
broke even a 90th-percentile SLA). A migration that would need to wait longer
than ``max_deferral_s`` is refused.
"""),
    cfg.IntOpt(
        'host_spacing_s',
        default=0,
        min=0,
        max=3600,
        help="""
Minimum seconds between the start of two migrations from the same host.
It is checked and reserved under one lock just before nova starts the
migration job, so two migrations planned at the same moment cannot both
start; the second waits (at most what is left of ``max_deferral_s``) and is
refused if it would have to wait longer. 0 disables the spacing.

Related options:

* ``max_deferral_s``
"""),
    cfg.FloatOpt(
        'busy_host_cpu_load',
        default=0.85,
        min=0.0,
        max=1.0,
        help="""
Source host CPU load (0..1) above which a migration waits, up to
``max_deferral_s``, for a quieter moment.
"""),
    cfg.StrOpt(
        'operator_secret',
        secret=True,
        help="""
Shared secret with which operators sign a one-off strategy choice for one
live migration (``openstack migtuner migrate SERVER --strategy NAME``). The
choice travels as an HMAC-SHA256 signed, expiring, single-use marker in the
server's metadata (key ``migtuner_operator_marker``), bound to the instance
and its source host; tenants, who can write their servers' metadata, cannot
forge or reuse it. Unset (the default): operator markers are refused and
removed, and the flavor, image and ``default_strategy`` decide.

Possible values: at least 32 random bytes, e.g. the 64 hex digits of
``python3 -c 'import secrets; print(secrets.token_hex(32))'``; the driver
refuses to start with a shorter or visibly non-random secret. Use the same
value on every compute and give it to the operators' tooling
(``--secret-file`` or ``$MIGTUNER_OPERATOR_SECRET``). Prefer
``operator_secret_file``, which also allows two keys during a rotation; set
only one of the two.

Related options:

* ``operator_secret_file``
* ``operator_marker_max_ttl_s``, ``operator_nonce_db``
"""),
    cfg.StrOpt(
        'operator_secret_file',
        help="""
File holding the operator secrets, instead of ``operator_secret``. The file
must not be readable or writable by its group or by other users (mode 0600
or 0400, owned by the user nova-compute runs as): the driver refuses to
start otherwise.

Possible values: a path. Each line that is not empty and does not start
with ``#`` is ``<key id> <secret>``, or a bare ``<secret>`` (key id
``default``); each secret has at least 32 random bytes, key ids are
1..16 letters, digits, ``_`` or ``-``. The operators' tooling signs with
the first key and names its key id in the marker; the compute accepts a
marker signed with any listed key. To rotate: add the new key as the first
line on every compute, restart, give it to the tooling, and remove the old
line once the markers signed with it have expired
(``operator_marker_max_ttl_s``).

Related options:

* ``operator_secret``
* ``operator_marker_max_ttl_s``
"""),
    cfg.IntOpt(
        'operator_marker_max_ttl_s',
        default=3600,
        min=60,
        max=3600,
        help="""
Longest lifetime, in seconds, of an operator strategy marker. A marker that
claims to live longer is refused; used markers are remembered (see
``operator_nonce_db``) until they expire.
"""),
    cfg.StrOpt(
        'operator_nonce_db',
        help="""
SQLite file in which the compute remembers the operator markers it has
used, so that a marker put back into a server's metadata is refused even
after nova-compute restarts. Unset: ``migtuner_used_markers.sqlite`` in
nova's ``state_path``.
"""),

    cfg.IntOpt(
        'max_incoming_migrations',
        default=2,
        min=0,
        max=64,
        help="""
Most live migrations that may be in flight *to* one compute host. The
scheduler filter ``MigTunerFilter`` does not choose a destination that
already receives this many, and ``MigTunerDriver`` on the destination
refuses more in nova's live-migration pre-check (nova's conductor then
tries the next host the scheduler offers). The pre-check counts the
migrations it admitted itself, under one lock, until their records name
the destination: nova writes the destination into the migration record
only after the pre-checks, so requests made together all pass the filter.
0 means no limit.

Nova's ``max_concurrent_live_migrations`` limits migrations *from* a host;
this limits them into one, where they share the network link and the
memory bandwidth of the receiving host. The filter counts the live
migrations in flight to each host (``accepted``, ``queued``,
``preparing``, ``running``, ``running (post-copy)``, ``post-migrating``) in
every cell's database when it runs; the counts
the computes publish in their resource stats, up to one
``update_resources_interval`` old, are used only when no cell answers.

Related options:

* ``destination_settle_s``
* ``filter_all_requests``
"""),
    cfg.IntOpt(
        'destination_settle_s',
        default=30,
        min=0,
        max=3600,
        help="""
Seconds after an incoming live migration ended during which
``MigTunerFilter`` does not choose the host as a live-migration destination
again, so the host and the guests that just arrived return to normal before
the next one (response times take seconds to recover after a
switch-over). 0 disables the settle time. Like
``max_incoming_migrations``, the end of the last incoming migration is read
from nova's database when the filter runs.

Related options:

* ``max_incoming_migrations``
"""),
    cfg.IntOpt(
        'destination_libvirt_wait_s',
        default=60,
        min=0,
        max=600,
        help="""
Seconds the destination compute waits for its own libvirtd to answer again
before nova's last step of an incoming live migration
(``post_live_migration_at_destination``). QEMU finishes a post-copy
migration without libvirtd, so a guest may arrive while the destination's
libvirtd restarts; without libvirt nova puts that running guest's server in
ERROR and its migration record in ``error``. The attempts back off from 1 s
to 8 s. 0 does not wait (nova's behaviour). nova's source compute waits for
this step up to ``[DEFAULT] long_rpc_timeout``, so keep this well below it.

Related options:

* ``[DEFAULT] long_rpc_timeout``
"""),
    cfg.BoolOpt(
        'filter_all_requests',
        default=False,
        help="""
Apply ``max_incoming_migrations`` and ``destination_settle_s`` to every
scheduling request (boots, cold migrations, resizes, evacuations,
unshelves), not only to live migrations. The CPU compatibility check only
ever applies to live migrations: every other operation defines the guest
CPU anew on the destination.
"""),
    cfg.DictOpt(
        'link_classes',
        default={},
        help="""
Classes of migration links and their bandwidth, as ``class:rate`` pairs,
e.g. ``rack:25Gbit/s,pod:10Gbit/s``. A host aggregate with the metadata
``migtuner_link_class=<class>`` says that its hosts reach each other over a
link of that class; two hosts in several such aggregates use the fastest
class. Hosts that share no such aggregate use ``link_bandwidth``.
``MigTunerWeigher`` prefers destinations reached over faster links, and the
source compute plans the migration with the class of the link to the
destination it was given (read from the destination's aggregates).

Related options:

* ``link_bandwidth``
* ``weight_multiplier``
"""),
    cfg.FloatOpt(
        'weight_multiplier',
        default=1.0,
        min=-1000.0,
        max=1000.0,
        help="""
Multiplier of ``MigTunerWeigher``, which ranks live-migration destinations
by the expected cost of the migration: link class from the source, CPU
load and incoming migrations of the destination, memory headroom after
placement, same CPU model as the source. A positive value prefers cheap
destinations, a negative one expensive ones, 0 disables the weigher.
Other requests than live migrations are not weighed.

This option can be overridden per host aggregate with the aggregate
metadata key ``migtuner_weight_multiplier``, like nova's own weighers.
"""),
]


def register_opts(conf):
    conf.register_group(migtuner_group)
    conf.register_opts(ALL_OPTS, group=migtuner_group)
