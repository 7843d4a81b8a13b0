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

"""The cloud's entry in the user's clouds.yaml, its collector and logs."""

from nova_migtuner.cloud import layout as layout_mod


def test_user_clouds_yaml_gets_and_loses_only_our_entry(tmp_path,
                                                        monkeypatch):
    import yaml

    from nova_migtuner.cloud import cloud as cloud_mod

    path = tmp_path / 'openstack' / 'clouds.yaml'
    path.parent.mkdir()
    path.write_text(yaml.safe_dump({'clouds': {'other': {'auth': {}}}}))
    monkeypatch.setattr(cloud_mod, 'USER_CLOUDS_YAML', str(path))
    cloud = cloud_mod.Cloud(layout_mod.Layout(
        workdir=str(tmp_path / 'wd'), venv='/v', cloud_venv='/c',
        tempest_venv='/t'))
    cloud._user_clouds_yaml({'auth': {'username': 'admin'}})
    clouds = yaml.safe_load(path.read_text())['clouds']
    assert set(clouds) == {'other', layout_mod.CLOUD_NAME}
    cloud._user_clouds_yaml(None)
    assert set(yaml.safe_load(path.read_text())['clouds']) == {'other'}


def test_cloud_collector_serves_metrics_on_the_layout_port(tmp_path):
    from nova_migtuner.cloud import cloud as cloud_mod
    from nova_migtuner.cmd import cli

    cloud = cloud_mod.Cloud(layout_mod.Layout(
        workdir=str(tmp_path / 'wd'), venv='/v', cloud_venv='/c',
        tempest_venv='/t'))
    argv = cloud.collector().argv
    assert argv[1] == 'report-collector'
    args = cli.build_parser(only='report-collector').parse_args(argv[1:])
    assert args.metrics_port == 19100 == layout_mod.Layout.\
        collector_metrics_port
    assert args.metrics_address == '127.0.0.1'


def test_down_keeps_the_logs_of_the_last_cloud(tmp_path):
    import os

    from nova_migtuner.cloud import cloud as cloud_mod

    cloud = cloud_mod.Cloud(layout_mod.Layout(
        workdir=str(tmp_path / 'wd'), venv='/v', cloud_venv='/c',
        tempest_venv='/t'))
    os.makedirs(cloud.layout.path('logs'))
    with open(cloud.layout.path('logs', 'nova-api.log'), 'w') as f:
        f.write('the last words\n')
    os.makedirs(cloud.layout.path('state'))
    cloud._keep_logs()
    with open(os.path.join(cloud.kept_logs_dir(), 'nova-api.log')) as f:
        assert f.read() == 'the last words\n'
    assert not os.path.exists(cloud.layout.path('logs'))
    assert cloud.kept_logs_dir() == str(tmp_path / 'wd-logs')
