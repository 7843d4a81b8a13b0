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

"""``nova-migtuner check --config-file nova.conf``: what is wrong in it.

Reads the file as nova reads it and reports, one line each, on what
nova_migtuner needs from it:

* driver: ``[DEFAULT] compute_driver`` loads ``MigTunerDriver`` on this
  nova (or says that this host's migrations are not tuned);
* notifications: ``[notifications] notification_format`` lets the
  versioned ``migtuner.live_migration.*`` notifications out, and
  ``[oslo_messaging_notifications] driver`` sends them off the host;
* migtuner: every ``[migtuner]`` value parses, every rate in bytes and bits;
* strategies: ``default_strategy`` and ``tenant_strategies`` are installed;
* secrets: ``operator_secret`` is long enough and the file is not
  readable by everybody;
* filters: ``MigTunerFilter`` and ``MigTunerWeigher`` are enabled the way
  nova loads them (``available_filters``, ``enabled_filters``,
  ``weight_classes`` keeping ``all_weighers``).

Each line is OK, WARNING (works, but maybe not as meant) or ERROR (does
not work); the exit status is 1 if there is an ERROR. A file for a
controller (no compute driver) or a compute (no scheduler settings) gets
warnings, not errors, for what it does not need.

The DevStack plugin runs the same checks (``devstack/migtuner_check.py``),
also before nova_migtuner is installed: this module imports nothing at the
top that DevStack's Python may not have yet.
"""

import dataclasses
import importlib
import importlib.metadata as metadata
import os
import stat
import sys

OK = 'OK'
WARNING = 'WARNING'
ERROR = 'ERROR'

DRIVER_LINE = 'migtuner.MigTunerDriver'
STOCK_DRIVER = 'libvirt.LibvirtDriver'
STRATEGY_NAMESPACE = 'nova_migtuner.strategies'
VERSIONED_FORMATS = ('versioned', 'both')
# oslo.messaging notifier drivers that send notifications off the host.
BUS_DRIVERS = ('messagingv2', 'messaging', 'kafka')
FILTER_PATH = 'nova_migtuner.scheduler.filters.MigTunerFilter'
FILTER_NAME = 'MigTunerFilter'
WEIGHER_PATH = 'nova_migtuner.scheduler.weights.MigTunerWeigher'
ALL_WEIGHERS = 'nova.scheduler.weights.all_weighers'
ALL_FILTERS = 'nova.scheduler.filters.all_filters'
RATE_OPTIONS = frozenset(('link_bandwidth', 'max_bandwidth_mib_s',
                          'link_classes'))


class CheckError(Exception):
    """A check that cannot pass; the message says what to change."""


@dataclasses.dataclass(frozen=True)
class Finding:
    level: str
    topic: str
    message: str

    def line(self):
        return '%-7s %-13s %s' % (self.level, self.topic, self.message)


# -- checks DevStack runs before installing -----------------------------------


def _requirement(path, name):
    from packaging import requirements

    with open(path) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if not line:
                continue
            req = requirements.Requirement(line)
            if req.name.lower() == name:
                return req
    raise CheckError('%s has no %s requirement' % (path, name))


def check_nova_version(requirements_file):
    """The installed nova is within the ``nova`` line of *requirements*."""
    req = _requirement(requirements_file, 'nova')
    try:
        installed = metadata.version('nova')
    except metadata.PackageNotFoundError:
        raise CheckError('nova is not installed in %s; enable nova before '
                         'nova-migtuner' % sys.prefix)
    if not req.specifier.contains(installed, prereleases=True):
        raise CheckError(
            'nova %s is installed but nova-migtuner supports %s: run the '
            'DevStack branch matching a supported nova, or set '
            'NOVA_MIGTUNER_CHECK_NOVA_VERSION=False to try anyway'
            % (installed, req))
    return 'nova %s satisfies %s' % (installed, req)


def check_driver(name):
    """``compute_driver = NAME`` loads a nova ``ComputeDriver`` class."""
    module_name, _, class_name = ('nova.virt.' + name).rpartition('.')
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise CheckError('compute_driver = %s cannot load: %s' % (name, e))
    cls = getattr(module, class_name, None)
    if cls is None:
        raise CheckError('compute_driver = %s cannot load: %s has no %s'
                         % (name, module_name, class_name))
    from nova.virt import driver

    if not (isinstance(cls, type) and issubclass(cls, driver.ComputeDriver)):
        raise CheckError('compute_driver = %s is not a nova ComputeDriver'
                         % name)
    return 'compute_driver = %s loads %s.%s' % (name, module_name,
                                                class_name)


# -- the nova.conf check ------------------------------------------------------


def load_config(config_files):
    """A private ``ConfigOpts`` with ``[migtuner]`` and the nova and
    oslo.messaging options the checks read, from *config_files*.
    """
    from oslo_config import cfg
    from oslo_messaging import opts as messaging_opts

    from nova_migtuner.conf import migtuner

    conf = cfg.ConfigOpts()
    migtuner.register_opts(conf)
    # nova's own options, with nova 34's names and defaults.
    conf.register_opt(cfg.StrOpt('compute_driver'))
    conf.register_opt(cfg.StrOpt('notification_format',
                                 default='unversioned'),
                      group='notifications')
    conf.register_opts([
        cfg.MultiStrOpt('available_filters', default=[ALL_FILTERS]),
        cfg.ListOpt('enabled_filters', default=[]),
        cfg.ListOpt('weight_classes', default=[ALL_WEIGHERS]),
    ], group='filter_scheduler')
    for group, opts in messaging_opts.list_opts():
        conf.register_opts(list(opts), group=group)
    for path in config_files:
        if not os.access(path, os.R_OK):
            raise CheckError('cannot read %s' % path)
    try:
        conf(args=[], project='nova', default_config_files=list(config_files),
             default_config_dirs=[])
    except cfg.Error as e:
        raise CheckError('cannot parse %s: %s' % (', '.join(config_files), e))
    return conf


def _value(conf, group, name, findings, topic):
    """Read one option; a bad value becomes an ERROR finding."""
    from oslo_config import cfg

    try:
        return getattr(conf[group] if group else conf, name), True
    except (ValueError, cfg.ConfigFileValueError) as e:
        # oslo.config says where the value came from; the file is known.
        text = str(e).split(' is not valid: ', 1)[-1]
        findings.append(Finding(ERROR, topic, '[%s] %s: %s'
                                % (group or 'DEFAULT', name, text)))
        return None, False


def driver_findings(conf, nova_version=None):
    driver = conf.compute_driver
    if not driver:
        return [Finding(WARNING, 'driver', 'no [DEFAULT] compute_driver: '
                        'not a compute host\'s nova.conf (nova-compute '
                        'needs one); write compute_driver = %s on computes'
                        % DRIVER_LINE)]
    if driver == STOCK_DRIVER:
        return [Finding(WARNING, 'driver', 'compute_driver = %s: live '
                        'migrations from this host are not tuned (stock '
                        'nova); write compute_driver = %s to tune them'
                        % (driver, DRIVER_LINE))]
    if 'migtuner' in driver.lower() and driver != DRIVER_LINE:
        return [Finding(ERROR, 'driver', 'compute_driver = %s: nova loads '
                        'nova.virt.<compute_driver>, so write exactly '
                        'compute_driver = %s' % (driver, DRIVER_LINE))]
    if driver != DRIVER_LINE:
        return [Finding(WARNING, 'driver', 'compute_driver = %s is not a '
                        'libvirt driver: nova_migtuner does not tune it'
                        % driver)]
    try:
        message = check_driver(driver)
    except CheckError as e:
        return [Finding(ERROR, 'driver', '%s (is nova_migtuner installed '
                        'in nova\'s Python, not editable?)' % e)]
    except ImportError as e:
        return [Finding(ERROR, 'driver', 'compute_driver = %s: nova cannot '
                        'be imported here: %s' % (driver, e))]
    from nova_migtuner.planning import compat

    if nova_version is None:
        from nova import version
        nova_version = version.version_string()
    problems = compat.version_problems(nova_version)
    if problems:
        return [Finding(ERROR, 'driver', '%s, but nova-compute will refuse '
                        'to start: %s. %s' % (message, '; '.join(problems),
                                              compat.UPGRADE_ADVICE))]
    return [Finding(OK, 'driver', '%s (nova %s)' % (message, nova_version))]


def notification_findings(conf, source):
    findings = []
    fmt = conf.notifications.notification_format
    if fmt in VERSIONED_FORMATS:
        findings.append(Finding(OK, 'notifications', '[notifications] '
                                'notification_format = %s' % fmt))
    else:
        findings.append(Finding(
            ERROR, 'notifications', '[notifications] notification_format = '
            '%s in %s hides the migtuner.live_migration.* notifications; '
            'use one of: %s' % (fmt, source, ', '.join(VERSIONED_FORMATS))))
    drivers = [d for d in conf.oslo_messaging_notifications.driver if d]
    if any(d in BUS_DRIVERS for d in drivers):
        findings.append(Finding(OK, 'notifications',
                                '[oslo_messaging_notifications] driver = %s'
                                % ', '.join(drivers)))
    else:
        findings.append(Finding(
            ERROR, 'notifications', '[oslo_messaging_notifications] driver '
            '= %s: notifications never leave this host (nothing for '
            '"nova-migtuner report-collector"); set driver = messagingv2'
            % (', '.join(drivers) or '(not set)')))
    return findings


def migtuner_findings(conf):
    import nova_migtuner.conf as mt_conf
    from nova_migtuner.conf import migtuner

    findings = []
    bad = set()
    for opt in migtuner.ALL_OPTS:
        _, ok = _value(conf, migtuner.GROUP_NAME, opt.dest, findings,
                       'migtuner')
        if not ok:
            bad.add(opt.dest)
    if not bad:
        findings.append(Finding(OK, 'migtuner', '[migtuner] values valid%s'
                                % ('' if conf.migtuner.enabled else
                                   '; enabled = false: migrations are not '
                                   'tuned (still reported)')))
    if not bad & RATE_OPTIONS:
        for line in mt_conf.rate_settings(conf):
            findings.append(Finding(OK, 'migtuner', line))
    return findings, bad


def strategy_findings(conf, source, installed=None):
    if installed is None:
        installed = sorted(ep.name for ep in
                           metadata.entry_points(group=STRATEGY_NAMESPACE))
    mt = conf.migtuner
    findings = []
    for name in [mt.default_strategy] + list(mt.tenant_strategies):
        if name not in installed:
            findings.append(Finding(
                ERROR, 'strategies', '[migtuner] strategy %r in %s is not '
                'installed; installed: %s'
                % (name, source, ', '.join(installed) or 'none')))
    if not findings:
        findings.append(Finding(OK, 'strategies', 'default %s, tenants may '
                                'choose %s; installed: %s'
                                % (mt.default_strategy,
                                   ', '.join(mt.tenant_strategies) or
                                   'none', ', '.join(installed))))
    return findings


def secret_findings(conf, config_files):
    from nova_migtuner import operator_marker

    secret = conf.migtuner.operator_secret
    if not secret:
        return [Finding(OK, 'secrets', 'no [migtuner] operator_secret: '
                        'operator markers ("openstack migtuner migrate '
                        '--strategy") are refused')]
    findings = []
    try:
        operator_marker.check_secret(secret)
    except operator_marker.MarkerError as e:
        findings.append(Finding(ERROR, 'secrets',
                                '[migtuner] operator_secret: %s' % e))
    for path in config_files:
        mode = os.stat(path).st_mode
        if mode & stat.S_IROTH:
            findings.append(Finding(
                WARNING, 'secrets', '%s holds operator_secret and is '
                'readable by every user (mode %o): chmod o-r %s'
                % (path, stat.S_IMODE(mode), path)))
    if not findings:
        findings.append(Finding(OK, 'secrets', '[migtuner] operator_secret '
                                'set (%d bytes), file not world-readable'
                                % len(secret.encode('utf-8'))))
    return findings


def filter_findings(conf):
    fs = conf.filter_scheduler
    available = list(fs.available_filters)
    enabled = list(fs.enabled_filters)
    weighers = list(fs.weight_classes)
    findings = []
    if FILTER_NAME in enabled and FILTER_PATH not in available:
        findings.append(Finding(
            ERROR, 'filters', '[filter_scheduler] enabled_filters names %s '
            'but available_filters does not list %s (all_filters has only '
            'nova\'s own): nova-scheduler will not start; add '
            'available_filters = %s' % (FILTER_NAME, FILTER_PATH,
                                        FILTER_PATH)))
    elif FILTER_NAME in enabled:
        findings.append(Finding(OK, 'filters', '%s enabled' % FILTER_NAME))
    elif FILTER_PATH in available:
        findings.append(Finding(
            WARNING, 'filters', '%s is in available_filters but not in '
            '[filter_scheduler] enabled_filters: it never runs'
            % FILTER_PATH))
    else:
        findings.append(Finding(
            WARNING, 'filters', '%s not enabled: live migrations may go to '
            'hosts that cannot take them (fine in a compute\'s nova.conf)'
            % FILTER_NAME))
    if WEIGHER_PATH in weighers:
        if ALL_WEIGHERS in weighers or len(weighers) > 1:
            findings.append(Finding(OK, 'filters', 'MigTunerWeigher in '
                                    'weight_classes with %s'
                                    % ', '.join(w for w in weighers
                                                if w != WEIGHER_PATH)))
        else:
            findings.append(Finding(
                WARNING, 'filters', '[filter_scheduler] weight_classes = %s '
                'replaces nova\'s default list: nova\'s own weighers (RAM, '
                'CPU, ...) no longer run; keep %s in it'
                % (WEIGHER_PATH, ALL_WEIGHERS)))
    else:
        findings.append(Finding(
            WARNING, 'filters', 'MigTunerWeigher not in [filter_scheduler] '
            'weight_classes: destinations are not ranked by migration cost '
            '(fine in a compute\'s nova.conf)'))
    return findings


def check_config(config_files, nova_version=None, installed=None):
    """All findings for *config_files*; raises CheckError if unreadable."""
    conf = load_config(config_files)
    source = ', '.join(config_files)
    findings = driver_findings(conf, nova_version)
    findings += notification_findings(conf, source)
    mt_findings, bad = migtuner_findings(conf)
    findings += mt_findings
    if not bad & {'default_strategy', 'tenant_strategies'}:
        findings += strategy_findings(conf, source, installed)
    if 'operator_secret' not in bad:
        findings += secret_findings(conf, config_files)
    findings += filter_findings(conf)
    return findings


# -- the subcommand -----------------------------------------------------------


def add_parser(subparsers):
    p = subparsers.add_parser(
        'check',
        help='say what is wrong in a nova.conf for nova_migtuner',
        description='Check a nova.conf as nova reads it: driver line, '
                    'notification format, notifier driver, [migtuner] '
                    'values and strategies, operator secret, scheduler '
                    'filter and weigher. One line per check (OK, WARNING, '
                    'ERROR); exits 1 if there is an ERROR.')
    p.add_argument('--config-file', action='append', required=True,
                   metavar='PATH',
                   help='nova.conf to check, e.g. /etc/nova/nova.conf; '
                        'repeatable (later files win, as in nova)')
    p.set_defaults(func=run)
    return p


def run(args, parser):
    try:
        findings = check_config(args.config_file)
    except CheckError as e:
        sys.stderr.write('nova-migtuner check: %s\n' % e)
        return 1
    for finding in findings:
        print(finding.line())
    errors = sum(1 for f in findings if f.level == ERROR)
    warnings = sum(1 for f in findings if f.level == WARNING)
    print('%s: %d error(s), %d warning(s)'
          % (', '.join(args.config_file), errors, warnings))
    return 1 if errors else 0
