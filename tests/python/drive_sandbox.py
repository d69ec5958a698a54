"""Drives a glbridge sandbox with the official Gradient Labs Python client,
unmodified, and verifies the webhooks the sandbox sent with the client's own
verifier. Usage:

    python drive_sandbox.py drive  BASE_URL INTEGRATION_KEY MANAGEMENT_KEY
    python drive_sandbox.py verify SIGNING_KEY WEBHOOKS_JSON

`drive` prints a JSON summary; `verify` prints the number of webhooks that
verified and exits non-zero on the first that does not.
"""

import json
import sys
from datetime import datetime

from gradient_labs import Client, Webhook
from gradient_labs._article_set_status import SetArticleUsageStatusParams
from gradient_labs._article_topic_upsert import ArticleTopicUpsertParams
from gradient_labs._article_upsert import UpsertArticleParams
from gradient_labs._conversation_add_message import AddMessageParams
from gradient_labs._conversation_assign import AssignmentParams
from gradient_labs._conversation_cancel import CancelParams
from gradient_labs._conversation_event import EventParams
from gradient_labs._conversation_finish import FinishParams
from gradient_labs._conversation_rate import RatingParams
from gradient_labs._conversation_resume import ResumeParams
from gradient_labs._conversation_start import StartConversationParams
from gradient_labs._handoff_target_delete import DeleteHandOffTargetParams
from gradient_labs._handoff_target_set_default import SetDefaultHandOffTargetParams
from gradient_labs._handoff_target_upsert import UpsertHandOffTargetParams
from gradient_labs.article import ArticleUsageStatus, PublicationStatus, Visibility
from gradient_labs.conversation import ConversationChannel, ConversationEventType, ParticipantType
from gradient_labs.errors import ResponseError


class Assignment(AssignmentParams):
    """gradient-labs 0.11.6's assign_conversation reads `params.participant_type`,
    which AssignmentParams does not have (an upstream bug); this exposes it so the
    unmodified client can send its request, `params.to_dict()`."""

    @property
    def participant_type(self):
        return self.assignee_type


def drive(base_url, integration_key, management_key):
    c = Client(api_key=integration_key, base_url=base_url, timeout=10)
    m = Client(api_key=management_key, base_url=base_url, timeout=10)
    now = datetime.utcnow()
    out = {}

    conv = c.start_conversation(params=StartConversationParams(
        id="py-1", customer_id="py-user", channel=ConversationChannel.LIVE_CHAT, created=now,
        conversation_token="py-token"))
    out["started"] = conv.status
    msg = c.add_message(conversation_id="py-1", params=AddMessageParams(
        id="py-m1", body="How do I get a refund for my item?", participant_id="py-user",
        participant_type=ParticipantType.CUSTOMER, created=now))
    out["message_id"] = msg.id
    c.add_conversation_event(conversation_id="py-1", params=EventParams(
        type=ConversationEventType.TYPING, participant_id="py-user",
        participant_type=ParticipantType.CUSTOMER))
    c.add_resource(conversation_id="py-1", name="order-details", data={"id": "A-1", "status": "shipped"})
    c.assign_conversation(conversation_id="py-1", params=Assignment(
        assignee_type=ParticipantType.AI_AGENT))
    out["assigned"] = c.read_conversation(conversation_id="py-1").status
    c.rate_conversation(conversation_id="py-1", params=RatingParams(type="csat", value=5, max_value=5, min_value=1))
    c.finish_conversation(conversation_id="py-1", params=FinishParams(reason="resolved"))
    out["finished"] = c.read_conversation(conversation_id="py-1").status
    c.resume_conversation(conversation_id="py-1", params=ResumeParams(assignee_type=ParticipantType.HUMAN_AGENT))
    c.cancel_conversation(conversation_id="py-1", params=CancelParams(reason="done"))
    out["cancelled"] = c.read_conversation(conversation_id="py-1").status

    c.upsert_article_topic(params=ArticleTopicUpsertParams(
        id="py-topic", name="Python", visibility=Visibility.PUBLIC, status=PublicationStatus.PUBLISHED,
        created=now, last_edited=now))
    c.upsert_article(params=UpsertArticleParams(
        id="py-article", title="Python article", body="Written by the Python client.",
        visibility=Visibility.PUBLIC, status=PublicationStatus.PUBLISHED, topic_id="py-topic",
        created=now, last_edited=now))
    c.set_article_usage_status(id="py-article", params=SetArticleUsageStatusParams(usage_status=ArticleUsageStatus.OFF))
    c.delete_article(id="py-article")

    m.upsert_hand_off_target(params=UpsertHandOffTargetParams(id="py-target", name="Python team"))
    m.set_default_hand_off_target(params=SetDefaultHandOffTargetParams(id="py-target", channel=ConversationChannel.EMAIL))
    out["targets"] = sorted(t.id for t in m.list_handoff_targets().targets)
    m.delete_hand_off_target(params=DeleteHandOffTargetParams(id="py-target"))
    out["targets_after_delete"] = sorted(t.id for t in m.list_handoff_targets().targets)

    try:
        c.list_handoff_targets()
        out["wrong_role"] = "accepted"
    except ResponseError as e:
        out["wrong_role"] = e.status_code
    try:
        c.read_conversation(conversation_id="nope")
    except ResponseError as e:
        out["missing"] = e.status_code
    print(json.dumps(out))


def verify(signing_key, path):
    with open(path) as f:
        webhooks = json.load(f)
    for w in webhooks:
        event = Webhook.parse_event(payload=w["body"], signature_header=w["signature"], signing_key=signing_key)
        assert event.event_id, w
    print(len(webhooks))


if __name__ == "__main__":
    if sys.argv[1] == "drive":
        drive(*sys.argv[2:5])
    else:
        verify(*sys.argv[2:4])
