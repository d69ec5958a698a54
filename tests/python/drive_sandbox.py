"""Drives a glbridge sandbox with the official Gradient Labs Python client,
unmodified, and verifies the webhooks the sandbox sent with the client's own
verifier. Usage:

    python drive_sandbox.py drive  BASE_URL INTEGRATION_KEY MANAGEMENT_KEY
    python drive_sandbox.py management BASE_URL MANAGEMENT_KEY SHOP_URL
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
from gradient_labs._note_create import CreateNoteParams
from gradient_labs._note_set_status import SetNoteStatusParams
from gradient_labs._note_update import UpdateNoteParams
from gradient_labs._procedure_list import ProcedureListParams
from gradient_labs._procedure_set_limit import ProcedureLimitParams
from gradient_labs._tool_execute import Argument, ToolExecuteParams
from gradient_labs._tool_update import ToolUpdateParams
from gradient_labs.note import NoteStatus
from gradient_labs.procedure import ProcedureStatus
from gradient_labs.tool import BodyEncoding, HTTPBodyDefinition, HTTPDefinition, ParameterType, Tool, ToolParameter


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


def drive_management(base_url, management_key, shop_url):
    """Procedures, tools and notes: every such method gradient-labs 0.11.6 has."""
    m = Client(api_key=management_key, base_url=base_url, timeout=10)
    out = {}

    # Procedures: pages, one procedure, its daily limit.
    page = m.list_procedures(params=ProcedureListParams())
    ids = [p.id for p in page.procedures]
    while page.pagination.next:
        page = m.list_procedures(params=ProcedureListParams(cursor=page.pagination.next))
        ids += [p.id for p in page.procedures]
    out["procedures"] = ids
    # The client's own bug: it writes the status into the query with an
    # f-string, which on Python 3.11+ gives `status=ProcedureStatus.LIVE`; the
    # sandbox refuses that value as the API would. A plain string works.
    try:
        m.list_procedures(params=ProcedureListParams(status=ProcedureStatus.LIVE))
        out["live_enum"] = "accepted"
    except ResponseError as e:
        out["live_enum"] = e.status_code
    out["live"] = [p.id for p in m.list_procedures(params=ProcedureListParams(status="live")).procedures]
    out["procedure"] = m.read_procedure(procedure_id="refunds").name
    limited = m.set_procedure_limit(procedure_id="lost-card",
                                    params=ProcedureLimitParams(has_daily_limit=True, max_daily_conversations=25))
    out["limit"] = [limited.has_daily_limit, limited.max_daily_conversations]

    # Tools: create, list, read, execute, update (to a real HTTP tool), delete.
    tool = m.create_tool(tool=Tool(
        name="order-status", description="Looks up an order",
        parameters=[ToolParameter(name="order", description="Order number", type=ParameterType.STRING, required=True)],
        http=HTTPDefinition(method="POST", url_template=shop_url,
                            body=HTTPBodyDefinition(encoding=BodyEncoding.JSON, json_template='{"order": "{{order}}"}'))))
    out["tool_created"] = tool.name
    out["tools"] = [t.id for t in m.list_tools()]
    out["tool_read"] = m.read_tool(tool_id=tool.id).description
    result = m.execute_tool(params=ToolExecuteParams(id=tool.id, arguments=[Argument(name="order", value="42")]))
    out["tool_result"] = result.result
    updated = m.update_tool(params=ToolUpdateParams(
        id=tool.id, description="Looks up an order's status",
        parameters=[ToolParameter(name="order", description="Order number", type=ParameterType.STRING, required=True)],
        http=HTTPDefinition(method="POST", url_template=shop_url,
                            body=HTTPBodyDefinition(encoding=BodyEncoding.JSON, json_template='{"order": "{{order}}"}'))))
    out["tool_updated"] = updated.description
    m.delete_tool(tool_id=tool.id)
    out["tools_after_delete"] = [t.id for t in m.list_tools()]

    # Notes: create, update, make live, delete. The client's own bug: its
    # Note reads `created`/`updated` as Unix seconds (dataclasses_json's
    # default for datetime), while the API (the Go client's time.Time)
    # writes RFC 3339 — so reading a note back raises TypeError after the
    # request succeeded. Recorded, and the next calls go on.
    def note_call(name, f):
        try:
            note = f()
            out[name] = [note.status, note.title]
        except TypeError as e:
            out[name] = "client bug: " + str(e)
    note_call("note_created", lambda: m.create_note(
        params=CreateNoteParams(id="py-note", title="Outage", body="Cards are down until 3pm.")))
    note_call("note_updated", lambda: m.update_note(
        note_id="py-note", params=UpdateNoteParams(title="Outage over", body="Cards work again.")))
    m.set_note_status(note_id="py-note", params=SetNoteStatusParams(status=NoteStatus.LIVE))
    try:
        m.set_note_status(note_id="py-nope", params=SetNoteStatusParams(status=NoteStatus.LIVE))
    except ResponseError as e:
        out["note_missing"] = e.status_code
    m.delete_note(note_id="py-note")
    try:
        m.delete_note(note_id="py-note")
    except ResponseError as e:
        out["note_gone"] = e.status_code
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
    elif sys.argv[1] == "management":
        drive_management(*sys.argv[2:5])
    else:
        verify(*sys.argv[2:4])
