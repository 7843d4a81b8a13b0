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

"""``nova-migtuner bench``'s refusals of arguments that do not go
together or name nothing it can run.
"""

import pytest

from nova_migtuner.bench import cli


@pytest.mark.parametrize('argv, message', [
    (['--fault', 'kill-dest-qemu'],
     '--fault only goes with --faults or --faults-only'),
    (['--faults-only', '--fault', 'unplug-it'], "invalid choice: 'unplug-it'"),
    (['--faults-only', '--engine', '--fault', 'restart-source-compute'],
     '--fault restart-source-compute: the engine path injects only'),
    (['--faults-only', '--fault-phase', 'post-copy'],
     "--fault-phase post-copy: only nova_migtuner's plans enter it"),
    (['--faults-only', '--fault-phase', 'stopped', '--method', 'migtuner'],
     "invalid choice: 'stopped'"),
    (['--fault-phase', 'pre-copy'],
     '--fault-phase only goes with --faults or --faults-only through nova'),
    (['--timing-runs', '-1'], '--timing-runs -1: expected 0 or more'),
    (['--timing-post-copy', 'forbidden'],
     '--timing-post-copy only goes with --timing-runs through nova'),
    (['--timing-runs', '5', '--timing-post-copy', 'never'],
     "invalid choice: 'never'"),
    (['--timing-runs', '5', '--method', 'stock-nova'],
     '--method, --memory and --link go with --engine'),
    (['--concurrent', '2,1'],
     "'2,1' is not a list of server counts K,K,... within 2..8"),
    (['--concurrent', 'two'], "'two' is not a list of server counts"),
    (['--concurrent', '2', '--faults'],
     '--concurrent runs its own servers through nova with the migtuner '
     'driver; it takes none of --faults'),
    (['--concurrent', '4', '--engine', '--method', 'stock-nova'],
     'it takes none of --engine, --method'),
])
def test_bad_arguments_are_refused_with_what_is_allowed(argv, message,
                                                        capsys):
    with pytest.raises(SystemExit) as exc:
        cli.parse_args(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
