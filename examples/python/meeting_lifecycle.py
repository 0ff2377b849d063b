#!/usr/bin/env python3
"""A Python (grpcio) client of meetings.v1.MeetingService.

Walks a Teams meeting through its life: creates it and prints its join URL, gets it, finds it by
that URL, changes its subject and lobby with a FieldMask, deletes it (after which Get is
NOT_FOUND); then shows how a Python caller reads the structured error details
(google.rpc.ErrorInfo, RetryInfo, BadRequest) of a failed call; then schedules a calendar event
with a Teams meeting (Schedule: two attendees, a time zone, recording off, a transaction id) and
cancels it (Cancel).

    python generate_stubs.py          # once, and whenever the proto changes
    python meeting_lifecycle.py [--address HOST:PORT] [--tenant GUID] [--user UPN] [--emulator URL]

Every flag has an environment variable: MEETING_SERVICE_ADDRESS, MEETING_SERVICE_TENANT,
MEETING_SERVICE_USER, MEETING_SERVICE_EMULATOR. The defaults are the dev-mode tenant and
organizer (`meeting-service --dev`). With --emulator (the URL the dev-mode banner prints) it also
shows a 403 from Graph and a throttled call whose RetryInfo it honours. It is also a test: it
exits non-zero when the service does not answer as documented.
"""

import argparse
import datetime
import os
import secrets
import sys
import time
import urllib.request
from pathlib import Path

import grpc
from google.protobuf import field_mask_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

# The stubs generate_stubs.py wrote (not committed).
sys.path.insert(0, str(Path(__file__).resolve().parent / "gen"))
try:
    from meetings.v1 import meeting_service_pb2 as pb
    from meetings.v1 import meeting_service_pb2_grpc as pb_grpc
except ImportError as exc:  # pragma: no cover - a usage error
    sys.exit(f"cannot import the generated stubs ({exc}): run `python generate_stubs.py` first")

DEV_TENANT = "7d0f7a6e-3c1b-4f7e-9a5d-2b8c6e4f1a90"
DEV_ORGANIZER = "adele.vance@contoso.example"
# A dev-mode organizer without a Teams application access policy: Graph answers 403.
NO_POLICY_ORGANIZER = "no.policy@contoso.example"
JOIN_URL_PREFIX = "https://teams.microsoft.com/l/meetup-join/"
ERROR_DOMAIN = "meetings.v1"
# Every call gets a deadline (seconds); the service stops retrying Graph when it runs out.
DEADLINE = 10.0


class Mismatch(Exception):
    """The service did not answer as documented."""


def check(ok: bool, message: str) -> None:
    if not ok:
        raise Mismatch(message)


def new_trace() -> tuple[str, str]:
    """A W3C trace context (https://www.w3.org/TR/trace-context/): (trace_id, traceparent)."""
    trace_id = secrets.token_hex(16)
    return trace_id, f"00-{trace_id}-{secrets.token_hex(8)}-01"


def call_metadata(traceparent: str) -> list[tuple[str, str]]:
    # gRPC metadata keys are lowercase ASCII.
    return [("accept-language", "de-DE"), ("traceparent", traceparent)]


def call_options(timeout: float = DEADLINE) -> dict:
    """What every call gets: a deadline, accept-language and a traceparent of its own."""
    return {"timeout": timeout, "metadata": call_metadata(new_trace()[1])}


def meeting_request(tenant: str, user: str, subject: str) -> pb.CreateRequest:
    start = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    request = pb.CreateRequest(tenant_id=tenant, user_id=user)
    request.meeting.subject = f"{subject} (meeting-service examples)"
    request.meeting.start_date_time.FromDatetime(start)
    request.meeting.end_date_time.FromDatetime(start + datetime.timedelta(minutes=30))
    # `language` left empty: the service uses the accept-language metadata instead.
    return request


def error_details(error: grpc.RpcError):
    """Unpacks the google.rpc.Status of the grpc-status-details-bin trailer."""
    status = rpc_status.from_call(error)
    info, retry, bad_request = None, None, None
    for detail in status.details if status else []:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
        elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            retry = error_details_pb2.RetryInfo()
            detail.Unpack(retry)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
    return info, retry, bad_request


def expect_error(call, request, trace, timeout=DEADLINE, what="the call"):
    """Calls `call` (stub.Create, stub.Get, ...) expecting an error; checks the ErrorInfo every error carries."""
    try:
        call(request, timeout=timeout, metadata=call_metadata(trace[1]))
    except grpc.RpcError as error:
        print(f"error as expected: {error.code().name}: {error.details()}")
        info, retry, bad_request = error_details(error)
        check(info is not None, "error without google.rpc.ErrorInfo")
        print(f"  ErrorInfo: reason={info.reason} domain={info.domain} metadata={dict(sorted(info.metadata.items()))}")
        check(info.domain == ERROR_DOMAIN, f"ErrorInfo.domain {info.domain!r}, expected {ERROR_DOMAIN!r}")
        # The service continues the caller's W3C trace: quote trace_id when reporting a problem.
        check(
            info.metadata.get("trace_id") == trace[0],
            f"ErrorInfo trace_id {info.metadata.get('trace_id')!r} is not the traceparent's {trace[0]}",
        )
        return error.code(), info, retry, bad_request
    raise Mismatch(f"{what} succeeded, expected an error")


def create_meeting(stub, args) -> pb.OnlineMeeting:
    """1. A successful Create: deadline, accept-language and traceparent metadata, the join URL."""
    _, traceparent = new_trace()
    response = stub.Create(
        meeting_request(args.tenant, args.user, "Python example"),
        timeout=DEADLINE,
        metadata=call_metadata(traceparent),
    )
    join_url = response.meeting.join_web_url
    print(f"created meeting, join URL: {join_url}")
    print(f"  graph_request_id: {response.graph_request_id}")
    check(join_url.startswith(JOIN_URL_PREFIX), f"join_web_url {join_url!r} does not start with {JOIN_URL_PREFIX}")
    check(response.created, "created is false for a new meeting")
    check(response.graph_request_id != "", "graph_request_id is empty")
    # accept-language: de-DE reached Graph, which localized the join information.
    check("de-DE" in response.meeting.join_information.content, "join_information is not localized for de-DE")
    return response.meeting


def get_and_find(stub, args, meeting: pb.OnlineMeeting) -> None:
    """2. Get by id, and Find by the join URL (as from a link someone pasted): the same meeting."""
    request = pb.GetRequest(tenant_id=args.tenant, user_id=args.user, meeting_id=meeting.id)
    got = stub.Get(request, **call_options()).meeting
    print(f"got meeting: subject {got.subject!r}")
    check(got.id == meeting.id and got.subject == meeting.subject, "Get returned another meeting")

    request = pb.FindRequest(tenant_id=args.tenant, user_id=args.user, join_web_url=meeting.join_web_url)
    found = stub.Find(request, **call_options()).meeting
    print(f"found meeting by join URL: subject {found.subject!r}")
    check(found.id == meeting.id, "Find by join_web_url returned another meeting")


def update_meeting(stub, args, meeting: pb.OnlineMeeting) -> None:
    """3. Update changes exactly the fields named in update_mask (snake_case), here subject and lobby."""
    request = pb.UpdateRequest(
        tenant_id=args.tenant,
        user_id=args.user,
        meeting_id=meeting.id,
        meeting=pb.OnlineMeeting(
            subject="Python example, renamed (meeting-service examples)",
            lobby_bypass_settings=pb.LobbyBypassSettings(scope=pb.LOBBY_BYPASS_SCOPE_ORGANIZATION),
        ),
        update_mask=field_mask_pb2.FieldMask(paths=["subject", "lobby_bypass_settings"]),
    )
    updated = stub.Update(request, **call_options()).meeting
    scope = pb.LobbyBypassScope.Name(updated.lobby_bypass_settings.scope)
    print(f"updated meeting: subject {updated.subject!r}, lobby bypass {scope}")
    check(updated.subject == request.meeting.subject, f"Update returned subject {updated.subject!r}")
    check(scope == "LOBBY_BYPASS_SCOPE_ORGANIZATION", f"Update returned lobby bypass scope {scope}")


def delete_meeting(stub, args, meeting: pb.OnlineMeeting) -> None:
    """4. Delete; then Get is NOT_FOUND (reason GRAPH_NOT_FOUND)."""
    stub.Delete(pb.DeleteRequest(tenant_id=args.tenant, user_id=args.user, meeting_id=meeting.id), **call_options())
    print("deleted meeting")
    request = pb.GetRequest(tenant_id=args.tenant, user_id=args.user, meeting_id=meeting.id)
    code, info, _, _ = expect_error(stub.Get, request, new_trace(), what="Get after Delete")
    check(code == grpc.StatusCode.NOT_FOUND, f"status {code.name}, expected NOT_FOUND")
    check(info.reason == "GRAPH_NOT_FOUND", f"ErrorInfo.reason {info.reason!r}, expected 'GRAPH_NOT_FOUND'")


def invalid_request(stub, args) -> None:
    """5. INVALID_ARGUMENT: ErrorInfo (reason INVALID_REQUEST) and a BadRequest naming the field."""
    request = meeting_request("not-a-guid", args.user, "invalid")
    code, info, _, bad_request = expect_error(stub.Create, request, new_trace())
    check(code == grpc.StatusCode.INVALID_ARGUMENT, f"status {code.name}, expected INVALID_ARGUMENT")
    check(info.reason == "INVALID_REQUEST", f"ErrorInfo.reason {info.reason!r}, expected 'INVALID_REQUEST'")
    check(bad_request is not None, "INVALID_ARGUMENT without a BadRequest")
    for violation in bad_request.field_violations:
        print(f"  BadRequest: field {violation.field!r}: {violation.description}")
    check(
        any(v.field == "tenant_id" for v in bad_request.field_violations),
        "BadRequest does not name the field tenant_id",
    )


def schedule_and_cancel(stub, args) -> None:
    """6. Schedule an Outlook event with a Teams meeting that invites its attendees, then Cancel it.

    Unlike Create, Schedule puts the meeting on the organizer's calendar and sends invitations. The
    transaction_id makes a retried Schedule return the same event instead of a second one.
    """
    start = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) + datetime.timedelta(days=2)
    event = pb.CalendarEvent(
        subject="Python example, scheduled (meeting-service examples)",
        time_zone="Europe/Berlin",  # an IANA name: the event shows in Berlin time
        attendees=[
            pb.Attendee(email="megan.bowen@contoso.example", name="Megan Bowen", type=pb.ATTENDEE_TYPE_REQUIRED),
            pb.Attendee(email="alex.wilber@contoso.example", name="Alex Wilber", type=pb.ATTENDEE_TYPE_OPTIONAL),
        ],
    )
    event.start.FromDatetime(start)
    event.end.FromDatetime(start + datetime.timedelta(minutes=30))
    request = pb.ScheduleRequest(
        tenant_id=args.tenant,
        user_id=args.user,
        event=event,
        meeting_options=pb.OnlineMeeting(allow_recording=False),
        transaction_id=f"python-example-{secrets.token_hex(8)}",
    )
    response = stub.Schedule(request, **call_options())
    scheduled, meeting = response.event, response.meeting
    print(f"scheduled event {scheduled.id[:24]}..., join URL: {meeting.join_web_url}")
    check(scheduled.id != "", "Schedule returned an event without an id")
    check(
        meeting.join_web_url.startswith(JOIN_URL_PREFIX),
        f"join_web_url {meeting.join_web_url!r} does not start with {JOIN_URL_PREFIX}",
    )
    check(meeting.HasField("allow_recording"), "Schedule returned a meeting without allow_recording")
    check(not meeting.allow_recording, "Schedule returned allow_recording true, expected false")
    check(scheduled.time_zone == "Europe/Berlin", f"Schedule returned time_zone {scheduled.time_zone!r}")
    check(len(scheduled.attendees) == 2, f"Schedule returned {len(scheduled.attendees)} attendees, expected 2")

    cancel = pb.CancelRequest(
        tenant_id=args.tenant, user_id=args.user, event_id=scheduled.id, comment="The Python example is done."
    )
    stub.Cancel(cancel, **call_options())
    print("cancelled event; the attendees get a cancellation notice")


def graph_forbidden(stub, args) -> None:
    """7. PERMISSION_DENIED from Graph (dev mode): ErrorInfo metadata identifies the Graph request."""
    request = meeting_request(args.tenant, NO_POLICY_ORGANIZER, "forbidden")
    code, info, _, _ = expect_error(stub.Create, request, new_trace())
    check(code == grpc.StatusCode.PERMISSION_DENIED, f"status {code.name}, expected PERMISSION_DENIED")
    check(info.reason == "GRAPH_FORBIDDEN", f"ErrorInfo.reason {info.reason!r}, expected 'GRAPH_FORBIDDEN'")
    for key in ("graph_request_id", "client_request_id"):
        check(info.metadata.get(key, "") != "", f"ErrorInfo metadata has no {key}")


def throttled_then_retried(stub, args) -> None:
    """8. RESOURCE_EXHAUSTED (dev mode): RetryInfo says when to retry; the client honours it.

    The emulator throttles Graph once with Retry-After 2.128 s; with a 2 s deadline the service
    cannot retry in time and returns RetryInfo. external_id makes the retry idempotent.
    """
    fault = b'{"target":"graph","status":429,"retryAfter":"2.128","times":1}'
    post = urllib.request.Request(
        f"{args.emulator.rstrip('/')}/_emulator/faults",
        data=fault,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(post, timeout=5) as reply:
        check(200 <= reply.status < 300, f"the emulator refused the fault: HTTP {reply.status}")

    request = meeting_request(args.tenant, args.user, "throttled")
    request.meeting.external_id = f"python-example-{secrets.token_hex(8)}"
    code, info, retry, _ = expect_error(stub.Create, request, new_trace(), timeout=2.0)
    check(code == grpc.StatusCode.RESOURCE_EXHAUSTED, f"status {code.name}, expected RESOURCE_EXHAUSTED")
    check(info.reason == "GRAPH_THROTTLED", f"ErrorInfo.reason {info.reason!r}, expected 'GRAPH_THROTTLED'")
    check(retry is not None and retry.HasField("retry_delay"), "RESOURCE_EXHAUSTED without RetryInfo.retry_delay")
    delay = retry.retry_delay.ToTimedelta()
    print(f"  RetryInfo: retry after {delay.total_seconds()} s")
    check(delay == datetime.timedelta(seconds=2.128), f"RetryInfo.retry_delay is {delay}, expected 2.128 s")

    time.sleep(delay.total_seconds())
    response = stub.Create(request, **call_options())
    join_url = response.meeting.join_web_url
    print(f"  retried after {delay.total_seconds()} s: created={response.created}, join URL {join_url}")
    check(join_url.startswith(JOIN_URL_PREFIX), "the retried Create returned no join URL")


def parse_args() -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(description="Create, get, find, update and delete a Teams meeting through meeting-service.")
    parser.add_argument("--address", default=env("MEETING_SERVICE_ADDRESS") or "127.0.0.1:50051")
    parser.add_argument("--tenant", default=env("MEETING_SERVICE_TENANT") or DEV_TENANT)
    parser.add_argument("--user", default=env("MEETING_SERVICE_USER") or DEV_ORGANIZER)
    parser.add_argument(
        "--emulator",
        default=env("MEETING_SERVICE_EMULATOR") or None,
        help="dev-mode emulator URL: also run the 403 and throttling demos",
    )
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    # Plaintext for the dev server; use grpc.secure_channel(address, grpc.ssl_channel_credentials()) with TLS.
    with grpc.insecure_channel(args.address) as channel:
        stub = pb_grpc.MeetingServiceStub(channel)
        try:
            meeting = create_meeting(stub, args)
            get_and_find(stub, args, meeting)
            update_meeting(stub, args, meeting)
            delete_meeting(stub, args, meeting)
            invalid_request(stub, args)
            schedule_and_cancel(stub, args)
            if args.emulator:
                graph_forbidden(stub, args)
                throttled_then_retried(stub, args)
            else:
                print("(no --emulator: skipping the dev-mode 403 and throttling demos)")
        except (Mismatch, grpc.RpcError, OSError) as error:
            detail = f"{error.code().name}: {error.details()}" if isinstance(error, grpc.RpcError) else error
            print(f"python example: FAILED: {detail}", file=sys.stderr)
            return 1
    print("python example: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
