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

"""The ``migtuner_live_migration`` event on the live-migration action.

nova records what happens to a request as events of its instance action
(``openstack server event show SERVER REQUEST``). The driver adds one event
for its own part of a live migration, so that an API client, not only a
reader of compute logs, can tell that nova_migtuner acted and how it
ended: result ``Success`` when a migtuner plan drove a migration that
completed, ``Error`` otherwise, with the outcome and the reason as the
event's details (visible to admins from microversion 2.84).

Recording never fails a migration: a database or RPC error here is logged
and the migration goes on.
"""

from nova import objects
from oslo_log import log as logging

LOG = logging.getLogger(__name__)

EVENT_NAME = 'migtuner_live_migration'


def start(context, instance, host):
    """Open the event; return whether it was opened."""
    try:
        objects.InstanceActionEvent.event_start(
            context, instance.uuid, EVENT_NAME, want_result=False, host=host)
    except Exception as e:
        LOG.warning('nova_migtuner could not record the %(event)s instance '
                    'action event: %(error)s',
                    {'event': EVENT_NAME, 'error': e}, instance=instance)
        return False
    return True


def details(outcome, tuned, reason):
    """The event's details text for a migration that did not complete
    under a plan; None when it did.
    """
    if tuned and outcome == 'completed':
        return None
    if not tuned:
        return ('nova_migtuner did not tune this migration (%s); outcome %s'
                % (reason or 'disabled', outcome))
    return 'nova_migtuner: migration %s%s' % (
        outcome, ': %s' % reason if reason else '')


def finish(context, instance, outcome, tuned, reason=None):
    """Close the event with the migration's outcome."""
    text = details(outcome, tuned, reason)
    try:
        if text is None:
            objects.InstanceActionEvent.event_finish(
                context, instance.uuid, EVENT_NAME, want_result=False)
        else:
            # nova stores a string exc_val as the event's details and any
            # exc_tb as its traceback; both say what happened.
            objects.InstanceActionEvent.event_finish_with_failure(
                context, instance.uuid, EVENT_NAME, exc_val=text,
                exc_tb=text, want_result=False)
    except Exception as e:
        LOG.warning('nova_migtuner could not finish the %(event)s instance '
                    'action event: %(error)s',
                    {'event': EVENT_NAME, 'error': e}, instance=instance)


def finish_session(context, instance, session):
    """Close the event from a finished migration session."""
    applied = [action for action, ok, _ in session.applied if ok]
    if session.fallback_reason:
        reason = session.fallback_reason
    elif session.nova_error is not None:
        reason = str(session.nova_error)
    elif session.outcome == 'refused':
        reason = session.timing_reason
    elif applied:
        # The plan's last action (e.g. the abort at its deadline) says why.
        reason = getattr(applied[-1], 'reason', None)
    else:
        reason = None
    finish(context, instance, session.outcome or 'error', session.tuned,
           reason)
