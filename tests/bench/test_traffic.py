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

"""The bytes the destination received, counted by an iptables rule."""

import os
import socket
import threading
import types

import pytest

from nova_migtuner.bench import traffic


class FakeIptables:
    """The INPUT chain, as ``iptables -nvxL INPUT`` prints it."""

    def __init__(self):
        self.rules = []
        self.calls = []

    def __call__(self, argv, check, capture_output, text):
        assert argv[:2] == ['iptables', '-w'] and check
        self.calls.append(argv[2])
        op, rest = argv[2], argv[3:]
        if op == '-I':
            self.rules.insert(0, rest)
        elif op == '-D':
            self.rules.remove(rest)
        out = 'Chain INPUT (policy ACCEPT 0 packets, 0 bytes)\n' \
              '    pkts      bytes target     prot opt in     out\n'
        for rule in self.rules:
            comment = rule[rule.index('--comment') + 1]
            out += ('     812  53477120            tcp  --  lo     *   '
                    '0.0.0.0/0  0.0.0.0/0  tcp dpts:%s /* %s */\n'
                    % (rule[rule.index('--dport') + 1], comment))
        return types.SimpleNamespace(stdout=out)


def test_the_counter_counts_its_own_rule_and_removes_it():
    iptables = FakeIptables()
    counter = traffic.PortCounter((49152, 49215), run=iptables).start()
    other = traffic.PortCounter((49300, 49363), run=iptables).start()
    assert iptables.rules[1][:7] == ['INPUT', '-i', 'lo', '-p', 'tcp',
                                     '--dport', '49152:49215']
    assert counter.stop() == 53477120
    assert counter.stop() is None       # once
    assert len(iptables.rules) == 1     # the other's rule is left alone
    assert other.read() == 53477120


def test_a_counter_never_started_removes_nothing():
    iptables = FakeIptables()
    assert traffic.PortCounter((1, 2), run=iptables).stop() is None
    assert iptables.calls == []


def test_qemu_traffic_reports_the_ports_count_once(monkeypatch):
    iptables = FakeIptables()
    monkeypatch.setattr(traffic.PortCounter, 'available',
                        staticmethod(lambda: True))
    moved = traffic.QemuTraffic(lambda host: None, 'a', 'b', poll_s=0.01,
                                dest_ports=(49152, 49215))
    moved.counter._run = iptables
    moved.start()
    first, second = moved.stop(), moved.stop()
    assert first['dest_port_received_bytes'] == 53477120
    assert second['dest_port_received_bytes'] == 53477120
    assert iptables.calls.count('-D') == 1
    assert iptables.rules == []


@pytest.mark.skipif(os.geteuid() != 0 or not traffic.PortCounter.available(),
                    reason='needs root and iptables')
def test_the_real_rule_counts_the_bytes_sent_to_the_port():
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    listener.settimeout(10)
    payload = b'x' * (4 * 2 ** 20)
    got = []

    def receive():
        receiver, _ = listener.accept()
        receiver.settimeout(10)
        total = 0
        while True:
            chunk = receiver.recv(2 ** 16)
            if not chunk:
                break
            total += len(chunk)
        receiver.close()
        got.append(total)

    counter = traffic.PortCounter((port, port)).start()
    try:
        reader = threading.Thread(target=receive, daemon=True)
        reader.start()
        with socket.create_connection(('127.0.0.1', port),
                                      timeout=10) as sender:
            sender.sendall(payload)
        reader.join(10)
    finally:
        counted = counter.stop()
        listener.close()
    got = got[0] if got else None
    assert got == len(payload)
    # The payload plus IP and TCP headers (and the handshake's packets).
    assert len(payload) <= counted <= len(payload) * 1.01
