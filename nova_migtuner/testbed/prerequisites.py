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

"""What the test bed needs from the machine, and how to install it.

The test bed installs nothing by itself: it reports what is missing and the
exact command that installs it.
"""

import dataclasses
import glob
import importlib.util
import os
import shutil
import struct

from nova_migtuner.testbed import guest

PT_INTERP = 3
STATIC_LIBC = '/usr/lib/x86_64-linux-gnu/libc.a'


@dataclasses.dataclass(frozen=True)
class MissingPrerequisite:
    what: str
    apt_package: str = None
    pip_package: str = None

    def __str__(self):
        if self.apt_package:
            return '%s (apt package %s)' % (self.what, self.apt_package)
        if self.pip_package:
            return '%s (pip package %s)' % (self.what, self.pip_package)
        return self.what


def _command(name, package):
    if shutil.which(name) is None:
        return MissingPrerequisite('command %s' % name, apt_package=package)
    return None


def is_static_elf(path):
    """True if ``path`` is a 64-bit ELF without a program interpreter."""
    try:
        with open(path, 'rb') as f:
            header = f.read(64)
            if header[:4] != b'\x7fELF' or header[4] != 2:
                return False
            phoff, = struct.unpack_from('<Q', header, 0x20)
            phentsize, phnum = struct.unpack_from('<HH', header, 0x36)
            f.seek(phoff)
            table = f.read(phentsize * phnum)
    except OSError:
        return False
    for i in range(phnum):
        p_type, = struct.unpack_from('<I', table, i * phentsize)
        if p_type == PT_INTERP:
            return False
    return True


def missing():
    """List of MissingPrerequisite (empty when the test bed can run)."""
    found = []
    if os.geteuid() != 0:
        found.append(MissingPrerequisite(
            'root privileges (the test bed bind-mounts libvirt dirs and '
            'runs libvirtd)'))
    for name, package in (('qemu-system-x86_64', 'qemu-system-x86'),
                          ('libvirtd', 'libvirt-daemon-system'),
                          ('gcc', 'gcc'),
                          ('cpio', 'cpio'),
                          ('unshare', 'util-linux'),
                          ('mount', 'mount'),
                          ('hostname', 'hostname')):
        item = _command(name, package)
        if item:
            found.append(item)
    if not os.path.exists('/etc/libvirt/qemu.conf'):
        found.append(MissingPrerequisite('/etc/libvirt/qemu.conf',
                                         apt_package='libvirt-daemon-system'))
    if not is_static_elf(guest.BUSYBOX):
        found.append(MissingPrerequisite('static %s' % guest.BUSYBOX,
                                         apt_package='busybox-static'))
    if not os.path.exists(STATIC_LIBC):
        found.append(MissingPrerequisite('static C library %s' % STATIC_LIBC,
                                         apt_package='libc6-dev'))
    if not glob.glob(guest.KERNEL_GLOB):
        found.append(MissingPrerequisite('a kernel %s' % guest.KERNEL_GLOB,
                                         apt_package='linux-image-amd64'))
    if importlib.util.find_spec('libvirt') is None:
        found.append(MissingPrerequisite(
            'Python module libvirt', pip_package='libvirt-python'))
    return found


def install_hint(items=None):
    """Exact command(s) that install ``items`` (default: what is missing)."""
    items = missing() if items is None else items
    apt = sorted({i.apt_package for i in items if i.apt_package})
    pip = sorted({i.pip_package for i in items if i.pip_package})
    commands = []
    if pip:
        # Building libvirt-python needs the libvirt headers and pkg-config.
        apt = sorted(set(apt) | {'libvirt-dev', 'pkg-config', 'gcc'})
    if apt:
        commands.append('apt-get install -y %s' % ' '.join(apt))
    if pip:
        commands.append('pip install %s' % ' '.join(pip))
    other = [str(i) for i in items if not i.apt_package and not i.pip_package]
    if other:
        commands.append('# also needed: %s' % '; '.join(other))
    return '\n'.join(commands)
