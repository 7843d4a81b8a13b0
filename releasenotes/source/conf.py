"""Sphinx configuration of the nova-migtuner release notes (reno).

Build: sphinx-build -W -b html releasenotes/source releasenotes/build/html
"""

project = 'nova-migtuner Release Notes'
copyright = 'nova_migtuner developers'

extensions = ['reno.sphinxext']

try:
    import openstackdocstheme  # noqa: F401
except ImportError:
    html_theme = 'alabaster'
else:
    extensions.append('openstackdocstheme')
    html_theme = 'openstackdocs'
    openstackdocs_repo_name = 'x/nova-migtuner'
    openstackdocs_bug_project = 'nova-migtuner'
    openstackdocs_bug_tag = 'releasenotes'
    openstackdocs_auto_name = False

master_doc = 'index'
source_suffix = '.rst'
exclude_patterns = ['_build']
pygments_style = 'native'
html_static_path = ['_static']
