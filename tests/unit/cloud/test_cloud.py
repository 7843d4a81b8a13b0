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

"""The cloud's entry in the user's clouds.yaml."""

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
