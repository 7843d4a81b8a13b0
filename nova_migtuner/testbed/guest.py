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

"""Guest artifacts (kernel, busybox initramfs with the workload) and the
libvirt domain XML of a test bed guest."""

import glob
import hashlib
import json
import logging
import lzma
import os
import re
import shutil
import struct
import tempfile
import xml.etree.ElementTree as ET
import zlib

from nova_migtuner.testbed import exceptions
from nova_migtuner.testbed import processes

LOG = logging.getLogger(__name__)

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data')
WORKLOAD_SOURCE = os.path.join(DATA_DIR, 'mtworkload.c')
INIT_SCRIPT = os.path.join(DATA_DIR, 'init.sh')
BUSYBOX = '/bin/busybox'
KERNEL_GLOB = '/boot/vmlinuz-*'
# Bump when the way artifacts are built changes, to force a rebuild.
BUILD_FORMAT = 2

READY_MARKER = 'mtw ready'
GUEST_NAME_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$')

# Kernel arguments: serial console for liveness lines, quiet to keep the boot
# short (every console byte is an emulated UART write under TCG), no reboot
# loop on panic.
BASE_KERNEL_ARGS = ('console=ttyS0,115200 quiet loglevel=3 panic=-1 '
                    'rdinit=/init')


def find_kernel():
    """Newest Debian kernel in /boot, or None."""
    kernels = sorted(glob.glob(KERNEL_GLOB), key=_version_key)
    return kernels[-1] if kernels else None


def _version_key(path):
    return [int(p) if p.isdigit() else p
            for p in re.split(r'(\d+)', os.path.basename(path))]


def validate_guest_name(name):
    if not isinstance(name, str) or not GUEST_NAME_RE.match(name):
        raise ValueError('Guest name %r is invalid: use 1-63 characters '
                         'from A-Z a-z 0-9 _ . - starting with a letter or '
                         'digit' % (name,))


class GuestArtifacts:
    """Kernel and initramfs of the test bed guest, built into a directory.

    The kernel is taken from /boot into the directory (see _install_kernel)
    so that a kernel package upgrade cannot pull the file from under a
    running or migrating guest.
    """

    def __init__(self, directory):
        self.directory = os.path.abspath(directory)
        self.initramfs = os.path.join(self.directory, 'initramfs.cpio')
        self.workload_binary = os.path.join(self.directory, 'mtworkload')
        self.manifest = os.path.join(self.directory, 'manifest.json')

    @property
    def kernel(self):
        """Path of the kernel to boot (see _install_kernel)."""
        return os.path.join(self.directory,
                            self._read_manifest().get('kernel_file',
                                                      'vmlinux'))

    def _read_manifest(self):
        try:
            with open(self.manifest) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def fingerprint(self):
        """Digest of every build input; a change means rebuild."""
        kernel = find_kernel()
        if kernel is None:
            raise exceptions.PrerequisiteError(
                'No kernel matches %s; install it with: '
                'apt-get install -y linux-image-amd64' % KERNEL_GLOB)
        digest = hashlib.sha256()
        digest.update(b'format %d\n' % BUILD_FORMAT)
        for path in (WORKLOAD_SOURCE, INIT_SCRIPT):
            with open(path, 'rb') as f:
                digest.update(f.read())
        for path in (BUSYBOX, kernel):
            st = os.stat(path)
            digest.update(('%s %d %d\n' % (path, st.st_size,
                                           st.st_mtime_ns)).encode())
        return {'digest': digest.hexdigest(), 'kernel_source': kernel}

    def is_current(self):
        recorded = self._read_manifest()
        return (recorded.get('inputs') == self.fingerprint() and
                all(os.path.exists(p) for p in (self.kernel, self.initramfs)))

    def ensure_built(self):
        """Build the artifacts unless current; True if it built them."""
        if self.is_current():
            LOG.debug('Guest artifacts in %s are current', self.directory)
            return False
        self.build()
        return True

    def build(self):
        fingerprint = self.fingerprint()
        os.makedirs(self.directory, exist_ok=True)
        LOG.info('Building guest artifacts in %s (kernel %s)',
                 self.directory, fingerprint['kernel_source'])
        processes.run(['gcc', '-static', '-O2', '-Wall', '-o',
                       self.workload_binary + '.tmp', WORKLOAD_SOURCE])
        os.replace(self.workload_binary + '.tmp', self.workload_binary)
        self._build_initramfs()
        kernel_file = self._install_kernel(fingerprint['kernel_source'])
        with open(self.manifest, 'w') as f:
            json.dump({'inputs': fingerprint, 'kernel_file': kernel_file}, f)

    def _install_kernel(self, source):
        """Install the kernel to boot; return its file name.

        Preferred: the uncompressed ELF vmlinux extracted from the bzImage,
        booted through its PVH entry point. Under TCG the guest otherwise
        spends about 4 s decompressing its own xz kernel (boot 7 s -> 3 s).
        Falls back to a plain copy of the bzImage.
        """
        with open(source, 'rb') as f:
            image = f.read()
        vmlinux = extract_vmlinux(image)
        if vmlinux is None:
            LOG.warning('Could not extract an ELF vmlinux with a PVH entry '
                        'from %s; booting the compressed kernel (slower)',
                        source)
            name, content = 'vmlinuz', image
        else:
            name, content = 'vmlinux', vmlinux
        target = os.path.join(self.directory, name)
        with open(target + '.tmp', 'wb') as f:
            f.write(content)
        os.replace(target + '.tmp', target)
        for stale in ({'vmlinux', 'vmlinuz'} - {name}):
            try:
                os.remove(os.path.join(self.directory, stale))
            except FileNotFoundError:
                pass
        return name

    def _build_initramfs(self):
        with tempfile.TemporaryDirectory(prefix='initramfs-',
                                         dir=self.directory) as root:
            for sub in ('bin', 'dev', 'proc', 'sys', 'tmp'):
                os.mkdir(os.path.join(root, sub))
            shutil.copy2(BUSYBOX, os.path.join(root, 'bin', 'busybox'))
            os.symlink('busybox', os.path.join(root, 'bin', 'sh'))
            shutil.copy2(self.workload_binary,
                         os.path.join(root, 'bin', 'mtworkload'))
            shutil.copyfile(INIT_SCRIPT, os.path.join(root, 'init'))
            os.chmod(os.path.join(root, 'init'), 0o755)
            names = []
            for dirpath, dirnames, filenames in os.walk(root):
                for entry in sorted(dirnames) + sorted(filenames):
                    names.append(os.path.relpath(os.path.join(dirpath, entry),
                                                 root))
            # newc is the only cpio format the kernel unpacks; -R 0:0 so the
            # guest sees root-owned files whoever builds the archive.
            archive = processes.run(
                ['cpio', '--null', '--create', '--format=newc', '--quiet',
                 '--owner=0:0'],
                cwd=root, input_bytes='\0'.join(['.'] + names).encode())
        with open(self.initramfs + '.tmp', 'wb') as f:
            f.write(archive)
        os.replace(self.initramfs + '.tmp', self.initramfs)


XEN_ELFNOTE_PHYS32_ENTRY = 18


def extract_vmlinux(bzimage):
    """The ELF vmlinux inside a bzImage (xz or gzip), or None.

    Only returned if it has the PVH entry note QEMU needs to boot an ELF
    kernel directly.
    """
    for magic, make in ((b'\xfd7zXZ\x00', lambda: lzma.LZMADecompressor(
                            format=lzma.FORMAT_XZ)),
                        (b'\x1f\x8b\x08', lambda: zlib.decompressobj(31))):
        start = bzimage.find(magic)
        if start < 0:
            continue
        try:
            elf = make().decompress(bzimage[start:])
        except (lzma.LZMAError, zlib.error):
            continue
        if elf[:4] == b'\x7fELF' and _has_pvh_note(elf):
            return elf
    return None


def _has_pvh_note(elf):
    """True if the 64-bit ELF has a Xen PHYS32_ENTRY note (PVH boot)."""
    if elf[4] != 2:
        return False
    phoff, = struct.unpack_from('<Q', elf, 0x20)
    phentsize, phnum = struct.unpack_from('<HH', elf, 0x36)
    for i in range(phnum):
        p_type, _flags, p_offset = struct.unpack_from(
            '<IIQ', elf, phoff + i * phentsize)
        p_filesz, = struct.unpack_from('<Q', elf, phoff + i * phentsize + 32)
        if p_type != 4:  # PT_NOTE
            continue
        pos, end = p_offset, p_offset + p_filesz
        while pos + 12 <= end:
            namesz, descsz, note_type = struct.unpack_from('<III', elf, pos)
            name = elf[pos + 12:pos + 12 + namesz].rstrip(b'\0')
            if name == b'Xen' and note_type == XEN_ELFNOTE_PHYS32_ENTRY:
                return True
            pos += 12 + _align4(namesz) + _align4(descsz)
    return False


def _align4(n):
    return (n + 3) & ~3


def domain_xml(name, memory_mib, vcpus, artifacts, workload,
               console_log, heartbeat_log):
    """Libvirt XML of a TCG guest booting the test bed kernel and initramfs.

    Both serial devices are files. Their paths are under /var/log/libvirt,
    which each test bed host bind-mounts from its own directory, so the same
    XML resolves to a different file on the source and on the destination and
    migration needs no destination XML.
    """
    domain = ET.Element('domain', type='qemu')
    ET.SubElement(domain, 'name').text = name
    ET.SubElement(domain, 'memory', unit='MiB').text = str(memory_mib)
    ET.SubElement(domain, 'vcpu').text = str(vcpus)
    os_el = ET.SubElement(domain, 'os')
    ET.SubElement(os_el, 'type', arch='x86_64', machine='pc').text = 'hvm'
    ET.SubElement(os_el, 'kernel').text = artifacts.kernel
    ET.SubElement(os_el, 'initrd').text = artifacts.initramfs
    ET.SubElement(os_el, 'cmdline').text = '%s %s' % (
        BASE_KERNEL_ARGS, workload.kernel_args())
    features = ET.SubElement(domain, 'features')
    ET.SubElement(features, 'acpi')
    ET.SubElement(domain, 'clock', offset='utc')
    ET.SubElement(domain, 'on_poweroff').text = 'destroy'
    ET.SubElement(domain, 'on_reboot').text = 'destroy'
    ET.SubElement(domain, 'on_crash').text = 'destroy'
    devices = ET.SubElement(domain, 'devices')
    ET.SubElement(devices, 'emulator').text = shutil.which(
        'qemu-system-x86_64') or '/usr/bin/qemu-system-x86_64'
    for port, path in ((0, console_log), (1, heartbeat_log)):
        serial = ET.SubElement(devices, 'serial', type='file')
        ET.SubElement(serial, 'source', path=path, append='on')
        ET.SubElement(serial, 'target', port=str(port))
    # Nothing the test does not need: fewer devices, less to migrate.
    ET.SubElement(devices, 'controller', type='usb', model='none')
    ET.SubElement(devices, 'memballoon', model='none')
    video = ET.SubElement(devices, 'video')
    ET.SubElement(video, 'model', type='none')
    return ET.tostring(domain, encoding='unicode')
