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

"""Serve one OpenStack WSGI application with waitress.

Usage: ``python wsgi_launcher.py --host H --port P MODULE:ATTRIBUTE``.

Run by file path with the Python of the service's own venv: this file
imports nothing of nova_migtuner, so the venv need not have it.

keystone and nova-api hand ``sys.argv`` to their config parser when the
application module is imported, so the launcher's own arguments are
removed from it first; each service finds its config files through its
documented environment variables (``OS_NOVA_CONFIG_DIR`` and friends).
"""

import argparse
import importlib
import signal
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(
        description='Serve a WSGI application with waitress.')
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--threads', type=int, default=4)
    parser.add_argument('--name', default=None,
                        help='process name shown in logs')
    parser.add_argument('--preload', action='append', default=[],
                        metavar='MODULE',
                        help='import MODULE after the application, then '
                             'configure every SQLAlchemy mapper; repeatable')
    parser.add_argument('application', help='MODULE:ATTRIBUTE')
    args = parser.parse_args(argv)
    module_name, _, attribute = args.application.partition(':')
    if not module_name or not attribute:
        parser.error('application %r is invalid: expected MODULE:ATTRIBUTE'
                     % args.application)
    sys.argv = [args.name or module_name]
    # waitress stops on SIGTERM only through KeyboardInterrupt handling.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    import waitress

    application = getattr(importlib.import_module(module_name), attribute)
    if args.preload:
        # neutron's API process alone never imports the models that add
        # backrefs such as Port.port_forwardings (its RPC workers do), and
        # GET /v2.0/ports reads them at class level before any query has
        # configured the mappers.
        for name in args.preload:
            importlib.import_module(name)
        from sqlalchemy import orm

        orm.configure_mappers()
    waitress.serve(application, host=args.host, port=args.port,
                   threads=args.threads, ident=args.name or module_name,
                   channel_timeout=600, clear_untrusted_proxy_headers=True)


if __name__ == '__main__':
    main()
