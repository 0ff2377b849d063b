// Command meeting-lifecycle is a Go (grpc-go) client of meetings.v1.MeetingService.
//
// It walks a Teams meeting through its life: creates it and prints its join URL, gets it, finds it
// by that URL, changes its subject and lobby with a FieldMask, deletes it (after which Get is
// NOT_FOUND); then it shows how a Go caller reads the structured error details
// (google.rpc.ErrorInfo, RetryInfo, BadRequest) of a failed call; then it schedules a calendar
// event with a Teams meeting (Schedule: two attendees, a time zone, recording off, a transaction
// id) and cancels it (Cancel).
//
//	./build.sh
//	bin/meeting-lifecycle [-address HOST:PORT] [-tenant GUID] [-user UPN] [-emulator URL]
//
// Every flag has an environment variable: MEETING_SERVICE_ADDRESS, MEETING_SERVICE_TENANT,
// MEETING_SERVICE_USER, MEETING_SERVICE_EMULATOR. The defaults are the dev-mode tenant and
// organizer (`meeting-service --dev`). With -emulator (the URL the dev-mode banner prints) it also
// shows a 403 from Graph and a throttled call whose RetryInfo it honours. It is also a test: it
// exits non-zero when the service does not answer as documented.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	meetingsv1 "github.com/meeting-service/meeting-service/gen/go/meetings/v1"
)

const (
	devTenant    = "7d0f7a6e-3c1b-4f7e-9a5d-2b8c6e4f1a90"
	devOrganizer = "adele.vance@contoso.example"
	// A dev-mode organizer without a Teams application access policy: Graph answers 403.
	noPolicyOrganizer = "no.policy@contoso.example"
	joinURLPrefix     = "https://teams.microsoft.com/l/meetup-join/"
	errorDomain       = "meetings.v1"
	// Every call gets a deadline; the service stops retrying Graph when it runs out.
	deadline = 10 * time.Second
)

type config struct {
	address, tenant, user, emulator string
}

// mismatch reports that the service did not answer as documented.
type mismatch struct{ message string }

func (m mismatch) Error() string { return m.message }

func check(ok bool, format string, args ...interface{}) error {
	if ok {
		return nil
	}
	return mismatch{fmt.Sprintf(format, args...)}
}

// traceContext is a W3C trace context (https://www.w3.org/TR/trace-context/) for one call.
type traceContext struct{ traceID, traceparent string }

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func newTrace() traceContext {
	id := randomHex(16)
	return traceContext{traceID: id, traceparent: "00-" + id + "-" + randomHex(8) + "-01"}
}

// callContext gives a call its deadline and the accept-language and traceparent metadata.
func callContext(timeout time.Duration, trace traceContext) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	ctx = metadata.AppendToOutgoingContext(ctx, "accept-language", "de-DE", "traceparent", trace.traceparent)
	return ctx, cancel
}

func meetingRequest(tenant, user, subject string) *meetingsv1.CreateRequest {
	start := time.Now().Add(24 * time.Hour)
	return &meetingsv1.CreateRequest{
		TenantId: tenant,
		UserId:   user,
		Meeting: &meetingsv1.OnlineMeeting{
			Subject:       proto.String(subject + " (meeting-service examples)"),
			StartDateTime: timestamppb.New(start),
			EndDateTime:   timestamppb.New(start.Add(30 * time.Minute)),
		},
		// Language left empty: the service uses the accept-language metadata instead.
	}
}

// errorDetails holds the google.rpc details of a status (grpc-status-details-bin trailer).
type errorDetails struct {
	info       *errdetails.ErrorInfo
	retry      *errdetails.RetryInfo
	badRequest *errdetails.BadRequest
}

func readDetails(st *status.Status) errorDetails {
	var d errorDetails
	for _, detail := range st.Details() {
		switch detail := detail.(type) {
		case *errdetails.ErrorInfo:
			d.info = detail
		case *errdetails.RetryInfo:
			d.retry = detail
		case *errdetails.BadRequest:
			d.badRequest = detail
		}
	}
	return d
}

// expectError makes a call expecting an error with the given code and ErrorInfo reason; what
// names the call in the mismatch when it succeeds.
func expectError(what string, timeout time.Duration, code codes.Code, reason string,
	call func(ctx context.Context) error) (errorDetails, error) {
	trace := newTrace()
	ctx, cancel := callContext(timeout, trace)
	defer cancel()
	err := call(ctx)
	if err == nil {
		return errorDetails{}, mismatch{what + " succeeded, expected an error"}
	}
	st := status.Convert(err)
	fmt.Printf("error as expected: %s: %s\n", st.Code(), st.Message())
	d := readDetails(st)
	if err := check(d.info != nil, "error without google.rpc.ErrorInfo"); err != nil {
		return d, err
	}
	fmt.Printf("  ErrorInfo: reason=%s domain=%s metadata=%s\n", d.info.GetReason(), d.info.GetDomain(),
		sortedMetadata(d.info.GetMetadata()))
	for _, err := range []error{
		check(st.Code() == code, "status %s, expected %s", st.Code(), code),
		check(d.info.GetReason() == reason, "ErrorInfo.reason %q, expected %q", d.info.GetReason(), reason),
		check(d.info.GetDomain() == errorDomain, "ErrorInfo.domain %q, expected %q", d.info.GetDomain(), errorDomain),
		// The service continues the caller's W3C trace: quote trace_id when reporting a problem.
		check(d.info.GetMetadata()["trace_id"] == trace.traceID, "ErrorInfo trace_id %q is not the traceparent's %s",
			d.info.GetMetadata()["trace_id"], trace.traceID),
	} {
		if err != nil {
			return d, err
		}
	}
	return d, nil
}

// create is a call of Create for expectError.
func create(client meetingsv1.MeetingServiceClient, req *meetingsv1.CreateRequest) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := client.Create(ctx, req)
		return err
	}
}

func sortedMetadata(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// createMeeting: a successful Create with deadline and metadata; prints the join URL.
func createMeeting(client meetingsv1.MeetingServiceClient, cfg config) (*meetingsv1.OnlineMeeting, error) {
	ctx, cancel := callContext(deadline, newTrace())
	defer cancel()
	resp, err := client.Create(ctx, meetingRequest(cfg.tenant, cfg.user, "Go example"))
	if err != nil {
		return nil, err
	}
	joinURL := resp.GetMeeting().GetJoinWebUrl()
	fmt.Printf("created meeting, join URL: %s\n", joinURL)
	fmt.Printf("  graph_request_id: %s\n", resp.GetGraphRequestId())
	for _, err := range []error{
		check(strings.HasPrefix(joinURL, joinURLPrefix), "join_web_url %q does not start with %s", joinURL, joinURLPrefix),
		check(resp.GetCreated(), "created is false for a new meeting"),
		check(resp.GetGraphRequestId() != "", "graph_request_id is empty"),
		// accept-language: de-DE reached Graph, which localized the join information.
		check(strings.Contains(resp.GetMeeting().GetJoinInformation().GetContent(), "de-DE"),
			"join_information is not localized for de-DE"),
	} {
		if err != nil {
			return nil, err
		}
	}
	return resp.GetMeeting(), nil
}

// getAndFind: Get by id, and Find by the join URL (as from a link someone pasted): the same meeting.
func getAndFind(client meetingsv1.MeetingServiceClient, cfg config, meeting *meetingsv1.OnlineMeeting) error {
	ctx, cancel := callContext(deadline, newTrace()) // one deadline and trace for both calls
	defer cancel()
	got, err := client.Get(ctx, &meetingsv1.GetRequest{TenantId: cfg.tenant, UserId: cfg.user, MeetingId: meeting.GetId()})
	if err != nil {
		return err
	}
	fmt.Printf("got meeting: subject %q\n", got.GetMeeting().GetSubject())
	if err := check(got.GetMeeting().GetId() == meeting.GetId() && got.GetMeeting().GetSubject() == meeting.GetSubject(),
		"Get returned another meeting"); err != nil {
		return err
	}

	found, err := client.Find(ctx, &meetingsv1.FindRequest{TenantId: cfg.tenant, UserId: cfg.user,
		Key: &meetingsv1.FindRequest_JoinWebUrl{JoinWebUrl: meeting.GetJoinWebUrl()}})
	if err != nil {
		return err
	}
	fmt.Printf("found meeting by join URL: subject %q\n", found.GetMeeting().GetSubject())
	return check(found.GetMeeting().GetId() == meeting.GetId(), "Find by join_web_url returned another meeting")
}

// updateMeeting: Update changes exactly the fields named in UpdateMask (snake_case), here the
// subject and the lobby.
func updateMeeting(client meetingsv1.MeetingServiceClient, cfg config, meeting *meetingsv1.OnlineMeeting) error {
	ctx, cancel := callContext(deadline, newTrace())
	defer cancel()
	subject := "Go example, renamed (meeting-service examples)"
	resp, err := client.Update(ctx, &meetingsv1.UpdateRequest{
		TenantId:  cfg.tenant,
		UserId:    cfg.user,
		MeetingId: meeting.GetId(),
		Meeting: &meetingsv1.OnlineMeeting{
			Subject: proto.String(subject),
			LobbyBypassSettings: &meetingsv1.LobbyBypassSettings{
				Scope: meetingsv1.LobbyBypassScope_LOBBY_BYPASS_SCOPE_ORGANIZATION,
			},
		},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"subject", "lobby_bypass_settings"}},
	})
	if err != nil {
		return err
	}
	updated := resp.GetMeeting()
	scope := updated.GetLobbyBypassSettings().GetScope()
	fmt.Printf("updated meeting: subject %q, lobby bypass %s\n", updated.GetSubject(), scope)
	if err := check(updated.GetSubject() == subject, "Update returned subject %q", updated.GetSubject()); err != nil {
		return err
	}
	return check(scope == meetingsv1.LobbyBypassScope_LOBBY_BYPASS_SCOPE_ORGANIZATION,
		"Update returned lobby bypass scope %s", scope)
}

// deleteMeeting: Delete; then Get is NOT_FOUND (reason GRAPH_NOT_FOUND).
func deleteMeeting(client meetingsv1.MeetingServiceClient, cfg config, meeting *meetingsv1.OnlineMeeting) error {
	ctx, cancel := callContext(deadline, newTrace())
	defer cancel()
	del := &meetingsv1.DeleteRequest{TenantId: cfg.tenant, UserId: cfg.user, MeetingId: meeting.GetId()}
	if _, err := client.Delete(ctx, del); err != nil {
		return err
	}
	fmt.Println("deleted meeting")
	get := &meetingsv1.GetRequest{TenantId: cfg.tenant, UserId: cfg.user, MeetingId: meeting.GetId()}
	_, err := expectError("Get after Delete", deadline, codes.NotFound, "GRAPH_NOT_FOUND",
		func(ctx context.Context) error {
			_, err := client.Get(ctx, get)
			return err
		})
	return err
}

// invalidRequest: INVALID_ARGUMENT, ErrorInfo reason INVALID_REQUEST, a BadRequest naming the field.
func invalidRequest(client meetingsv1.MeetingServiceClient, cfg config) error {
	d, err := expectError("Create", deadline, codes.InvalidArgument, "INVALID_REQUEST",
		create(client, meetingRequest("not-a-guid", cfg.user, "invalid")))
	if err != nil {
		return err
	}
	if err := check(d.badRequest != nil, "INVALID_ARGUMENT without a BadRequest"); err != nil {
		return err
	}
	named := false
	for _, v := range d.badRequest.GetFieldViolations() {
		fmt.Printf("  BadRequest: field %q: %s\n", v.GetField(), v.GetDescription())
		named = named || v.GetField() == "tenant_id"
	}
	return check(named, "BadRequest does not name the field tenant_id")
}

// scheduleAndCancel: Schedule an Outlook event with a Teams meeting that invites its attendees
// (unlike Create, it is on the organizer's calendar), then Cancel it. The transaction_id makes a
// retried Schedule return the same event instead of a second one.
func scheduleAndCancel(client meetingsv1.MeetingServiceClient, cfg config) error {
	ctx, cancel := callContext(deadline, newTrace())
	defer cancel()
	start := time.Now().Add(48 * time.Hour).Truncate(time.Second)
	resp, err := client.Schedule(ctx, &meetingsv1.ScheduleRequest{
		TenantId: cfg.tenant,
		UserId:   cfg.user,
		Event: &meetingsv1.CalendarEvent{
			Subject:  proto.String("Go example, scheduled (meeting-service examples)"),
			Start:    timestamppb.New(start),
			End:      timestamppb.New(start.Add(30 * time.Minute)),
			TimeZone: proto.String("Europe/Berlin"), // an IANA name: the event shows in Berlin time
			Attendees: []*meetingsv1.Attendee{
				{Email: "megan.bowen@contoso.example", Name: "Megan Bowen", Type: meetingsv1.AttendeeType_ATTENDEE_TYPE_REQUIRED},
				{Email: "alex.wilber@contoso.example", Name: "Alex Wilber", Type: meetingsv1.AttendeeType_ATTENDEE_TYPE_OPTIONAL},
			},
		},
		MeetingOptions: &meetingsv1.OnlineMeeting{AllowRecording: proto.Bool(false)},
		TransactionId:  "go-example-" + randomHex(8),
	})
	if err != nil {
		return err
	}
	event, meeting := resp.GetEvent(), resp.GetMeeting()
	fmt.Printf("scheduled event %.24s..., join URL: %s\n", event.GetId(), meeting.GetJoinWebUrl())
	for _, err := range []error{
		check(event.GetId() != "", "Schedule returned an event without an id"),
		check(strings.HasPrefix(meeting.GetJoinWebUrl(), joinURLPrefix), "join_web_url %q does not start with %s",
			meeting.GetJoinWebUrl(), joinURLPrefix),
		check(meeting.AllowRecording != nil, "Schedule returned a meeting without allow_recording"),
		check(!meeting.GetAllowRecording(), "Schedule returned allow_recording true, expected false"),
		check(event.GetTimeZone() == "Europe/Berlin", "Schedule returned time_zone %q", event.GetTimeZone()),
		check(len(event.GetAttendees()) == 2, "Schedule returned %d attendees, expected 2", len(event.GetAttendees())),
	} {
		if err != nil {
			return err
		}
	}

	_, err = client.Cancel(ctx, &meetingsv1.CancelRequest{TenantId: cfg.tenant, UserId: cfg.user,
		EventId: event.GetId(), Comment: "The Go example is done."})
	if err != nil {
		return err
	}
	fmt.Println("cancelled event; the attendees get a cancellation notice")
	return nil
}

// graphForbidden (dev mode): PERMISSION_DENIED; ErrorInfo metadata identifies the Graph request.
func graphForbidden(client meetingsv1.MeetingServiceClient, cfg config) error {
	d, err := expectError("Create", deadline, codes.PermissionDenied, "GRAPH_FORBIDDEN",
		create(client, meetingRequest(cfg.tenant, noPolicyOrganizer, "forbidden")))
	if err != nil {
		return err
	}
	for _, key := range []string{"graph_request_id", "client_request_id"} {
		if err := check(d.info.GetMetadata()[key] != "", "ErrorInfo metadata has no %s", key); err != nil {
			return err
		}
	}
	return nil
}

// throttledThenRetried (dev mode): RESOURCE_EXHAUSTED with RetryInfo, which the client honours.
// The emulator throttles Graph once with Retry-After 2.128 s; with a 2 s deadline the service
// cannot retry in time and returns RetryInfo. external_id makes the retry idempotent.
func throttledThenRetried(client meetingsv1.MeetingServiceClient, cfg config) error {
	fault := []byte(`{"target":"graph","status":429,"retryAfter":"2.128","times":1}`)
	resp, err := http.Post(strings.TrimSuffix(cfg.emulator, "/")+"/_emulator/faults", "application/json",
		bytes.NewReader(fault))
	if err != nil {
		return err
	}
	resp.Body.Close()
	if err := check(resp.StatusCode/100 == 2, "the emulator refused the fault: HTTP %d", resp.StatusCode); err != nil {
		return err
	}

	req := meetingRequest(cfg.tenant, cfg.user, "throttled")
	req.Meeting.ExternalId = proto.String("go-example-" + randomHex(8))
	d, err := expectError("Create", 2*time.Second, codes.ResourceExhausted, "GRAPH_THROTTLED", create(client, req))
	if err != nil {
		return err
	}
	if err := check(d.retry.GetRetryDelay() != nil, "RESOURCE_EXHAUSTED without RetryInfo.retry_delay"); err != nil {
		return err
	}
	delay := d.retry.GetRetryDelay().AsDuration()
	fmt.Printf("  RetryInfo: retry after %s\n", delay)
	if err := check(delay == 2128*time.Millisecond, "RetryInfo.retry_delay is %s, expected 2.128s", delay); err != nil {
		return err
	}

	time.Sleep(delay)
	ctx, cancel := callContext(deadline, newTrace())
	defer cancel()
	retried, err := client.Create(ctx, req)
	if err != nil {
		return err
	}
	joinURL := retried.GetMeeting().GetJoinWebUrl()
	fmt.Printf("  retried after %s: created=%t, join URL %s\n", delay, retried.GetCreated(), joinURL)
	return check(strings.HasPrefix(joinURL, joinURLPrefix), "the retried Create returned no join URL")
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func run() error {
	var cfg config
	flag.StringVar(&cfg.address, "address", envOr("MEETING_SERVICE_ADDRESS", "127.0.0.1:50051"), "service address")
	flag.StringVar(&cfg.tenant, "tenant", envOr("MEETING_SERVICE_TENANT", devTenant), "tenant id")
	flag.StringVar(&cfg.user, "user", envOr("MEETING_SERVICE_USER", devOrganizer), "organizer")
	flag.StringVar(&cfg.emulator, "emulator", os.Getenv("MEETING_SERVICE_EMULATOR"),
		"dev-mode emulator URL: also run the 403 and throttling demos")
	flag.Parse()

	// Plaintext for the dev server; use grpc.WithTransportCredentials(credentials.NewTLS(...)) with
	// TLS. (grpc-go >= 1.34 spells plaintext grpc.WithTransportCredentials(insecure.NewCredentials()).)
	conn, err := grpc.Dial(cfg.address, grpc.WithInsecure())
	if err != nil {
		return err
	}
	defer conn.Close()
	client := meetingsv1.NewMeetingServiceClient(conn)

	meeting, err := createMeeting(client, cfg)
	if err != nil {
		return err
	}
	for _, step := range []func(meetingsv1.MeetingServiceClient, config, *meetingsv1.OnlineMeeting) error{
		getAndFind, updateMeeting, deleteMeeting,
	} {
		if err := step(client, cfg, meeting); err != nil {
			return err
		}
	}
	if err := invalidRequest(client, cfg); err != nil {
		return err
	}
	if err := scheduleAndCancel(client, cfg); err != nil {
		return err
	}
	if cfg.emulator == "" {
		fmt.Println("(no -emulator: skipping the dev-mode 403 and throttling demos)")
		return nil
	}
	if err := graphForbidden(client, cfg); err != nil {
		return err
	}
	return throttledThenRetried(client, cfg)
}

func main() {
	if err := run(); err != nil {
		if st, ok := status.FromError(err); ok {
			err = fmt.Errorf("%s: %s", st.Code(), st.Message())
		}
		fmt.Fprintf(os.Stderr, "go example: FAILED: %v\n", err)
		os.Exit(1)
	}
	fmt.Println("go example: all checks passed")
}
