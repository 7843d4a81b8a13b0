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

"""Sphinx configuration of the nova-migtuner documentation.

Build (warnings are errors), from a git checkout or an unpacked release::

    pip install -r doc/requirements.txt -e .
    sphinx-build -W -b html doc/source doc/build/html
"""

import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

project = 'nova-migtuner'
copyright = 'nova_migtuner developers'
author = 'nova_migtuner developers'

extensions = [
    # [migtuner] reference from the options themselves (show-options)
    'oslo_config.sphinxext',
    # _static/nova_migtuner.conf.sample from the generator config
    'oslo_config.sphinxconfiggen',
]

config_generator_config_file = [
    (os.path.join(ROOT, 'etc', 'nova_migtuner',
                  'nova_migtuner-config-generator.conf'),
     '_static/nova_migtuner'),
]


def _in_git_checkout():
    """openstackdocstheme reads the commit with ``git rev-parse HEAD`` in
    the working directory and warns (an error under -W) without one: a
    release tarball builds with the plain theme instead.
    """
    try:
        subprocess.run(['git', 'rev-parse', 'HEAD'], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except (OSError, subprocess.CalledProcessError):
        return False
    return True


try:
    import openstackdocstheme  # noqa: F401
except ImportError:
    openstackdocstheme = None
if openstackdocstheme is None or not _in_git_checkout():
    html_theme = 'alabaster'
else:
    extensions.append('openstackdocstheme')
    html_theme = 'openstackdocs'
    openstackdocs_repo_name = 'x/nova-migtuner'
    openstackdocs_bug_project = 'nova-migtuner'
    openstackdocs_bug_tag = 'doc'
    openstackdocs_auto_name = False

master_doc = 'index'
source_suffix = '.rst'
exclude_patterns = ['_build']
pygments_style = 'native'
html_static_path = ['_static']
# admin/notifications.rst (the payload reference) is written with the nova
# integration; the admin guide links to it once it is there.
if os.path.exists(os.path.join(HERE, 'admin', 'notifications.rst')):
    rst_prolog = ('.. |notifications-page| replace:: '
                  ':doc:`/admin/notifications`\n')
else:
    rst_prolog = ('.. |notifications-page| replace:: the notification '
                  'reference (admin/notifications, to come)\n')
