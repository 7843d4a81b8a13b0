"""Checks the nova-migtuner DevStack plugin runs with DevStack's Python.

Each subcommand exits 0 when the check passes and otherwise prints one line
saying what is wrong and what to change, and exits 1:

``nova-version REQUIREMENTS``
    the installed nova is within the range of the ``nova`` line of
    *REQUIREMENTS* (before pip gets a chance to replace DevStack's nova).
``driver NAME``
    ``[DEFAULT] compute_driver = NAME`` loads: nova imports
    ``nova.virt.NAME`` and the class is a ``ComputeDriver``.
``validate CONFIG_FILE``
    the ``[migtuner]`` section of *CONFIG_FILE* parses with nova_migtuner's
    options, names installed strategies, and ``[notifications]
    notification_format`` lets the versioned notifications out.

It only uses the standard library and the packages the check is about, so
it runs on any DevStack node where nova is installed.
"""

import argparse
import importlib
import importlib.metadata as metadata
import sys

STRATEGY_NAMESPACE = 'nova_migtuner.strategies'
VERSIONED_FORMATS = ('versioned', 'both')


class CheckError(Exception):
    pass


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


def validate(config_file):
    from oslo_config import cfg

    from nova_migtuner.conf import migtuner

    conf = cfg.ConfigOpts()
    migtuner.register_opts(conf)
    conf.register_opt(cfg.StrOpt('notification_format',
                                 default='unversioned'),
                      group='notifications')
    conf([], project='nova', default_config_files=[config_file],
         default_config_dirs=[])
    group = conf[migtuner.GROUP_NAME]
    for opt in migtuner.ALL_OPTS:
        try:
            getattr(group, opt.dest)
        except (ValueError, cfg.ConfigFileValueError) as e:
            raise CheckError('[migtuner] %s in %s: %s'
                             % (opt.name, config_file, e))
    installed = sorted(ep.name for ep in
                       metadata.entry_points(group=STRATEGY_NAMESPACE))
    for name in [group.default_strategy] + list(group.tenant_strategies):
        if name not in installed:
            raise CheckError('[migtuner] strategy %r in %s is not installed; '
                             'installed: %s'
                             % (name, config_file, ', '.join(installed)))
    fmt = conf.notifications.notification_format
    if fmt not in VERSIONED_FORMATS:
        raise CheckError('[notifications] notification_format = %s in %s '
                         'hides the migtuner.live_migration.* notifications; '
                         'use one of: %s'
                         % (fmt, config_file, ', '.join(VERSIONED_FORMATS)))
    return '%s: [migtuner] valid, strategies %s installed' % (
        config_file, ', '.join(installed))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest='check', required=True)
    sub.add_parser('nova-version').add_argument('requirements')
    sub.add_parser('driver').add_argument('name')
    sub.add_parser('validate').add_argument('config_file')
    args = parser.parse_args(argv)
    try:
        if args.check == 'nova-version':
            message = check_nova_version(args.requirements)
        elif args.check == 'driver':
            message = check_driver(args.name)
        else:
            message = validate(args.config_file)
    except CheckError as e:
        print('nova-migtuner: %s' % e, file=sys.stderr)
        return 1
    print('nova-migtuner: %s' % message)
    return 0


if __name__ == '__main__':
    sys.exit(main())
