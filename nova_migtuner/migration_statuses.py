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

"""The statuses of nova 34's live-migration records, and what they count for.

One definition for the driver, the scheduler filter and the CLI. nova sets
them in the conductor (``accepted``, ``failed``, ``error``), the compute
manager (``queued``, ``preparing``, ``running``, ``post-migrating``,
``completed``, ``failed``, ``error``) and the libvirt driver (``running
(post-copy)`` once the migration switched to post-copy, ``cancelled``).
"""

LIVE_MIGRATION = 'live-migration'

COMPLETED = 'completed'
POST_COPY = 'running (post-copy)'

# Between "a destination was chosen" and "the guest runs there": the
# migration loads the destination's link and memory.
IN_FLIGHT = frozenset(('accepted', 'queued', 'preparing', 'running',
                       POST_COPY, 'post-migrating'))

# A migration in one of these no longer runs: nova's record is final.
FINISHED = frozenset((COMPLETED, 'failed', 'error', 'cancelled'))

# The end of which instance spacing (``[migtuner] instance_spacing_s``)
# counts from: a migration that moved the guest. A failed, refused or
# cancelled one did not (a refused one is recorded as 'failed': counting it
# would make every retry refuse itself again).
SPACING = frozenset((COMPLETED,))
