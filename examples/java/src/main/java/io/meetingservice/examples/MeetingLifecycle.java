package io.meetingservice.examples;

import com.google.protobuf.Any;
import com.google.protobuf.FieldMask;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Timestamp;
import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import com.google.rpc.RetryInfo;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.MetadataUtils;
import io.meetingservice.meetings.v1.CreateRequest;
import io.meetingservice.meetings.v1.CreateResponse;
import io.meetingservice.meetings.v1.DeleteRequest;
import io.meetingservice.meetings.v1.FindRequest;
import io.meetingservice.meetings.v1.GetRequest;
import io.meetingservice.meetings.v1.LobbyBypassScope;
import io.meetingservice.meetings.v1.LobbyBypassSettings;
import io.meetingservice.meetings.v1.MeetingServiceGrpc;
import io.meetingservice.meetings.v1.OnlineMeeting;
import io.meetingservice.meetings.v1.UpdateRequest;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * A Java (grpc-java) client of meetings.v1.MeetingService.
 *
 * <p>Walks a Teams meeting through its life: creates it and prints its join URL, gets it, finds it
 * by that URL, changes its subject and lobby with a FieldMask, deletes it (after which Get is
 * NOT_FOUND); then shows how a Java caller reads the structured error details
 * (google.rpc.ErrorInfo, RetryInfo, BadRequest) of a failed call.
 *
 * <pre>
 *   ./build.sh
 *   ./run.sh [--address HOST:PORT] [--tenant GUID] [--user UPN] [--emulator URL]
 * </pre>
 *
 * <p>Every flag has an environment variable: MEETING_SERVICE_ADDRESS, MEETING_SERVICE_TENANT,
 * MEETING_SERVICE_USER, MEETING_SERVICE_EMULATOR. The defaults are the dev-mode tenant and organizer
 * ({@code meeting-service --dev}). With --emulator (the URL the dev-mode banner prints) it also shows
 * a 403 from Graph and a throttled call whose RetryInfo it honours. It is also a test: it exits
 * non-zero when the service does not answer as documented.
 */
public final class MeetingLifecycle {
  private static final String DEV_TENANT = "7d0f7a6e-3c1b-4f7e-9a5d-2b8c6e4f1a90";
  private static final String DEV_ORGANIZER = "adele.vance@contoso.example";
  /** A dev-mode organizer without a Teams application access policy: Graph answers 403. */
  private static final String NO_POLICY_ORGANIZER = "no.policy@contoso.example";

  private static final String JOIN_URL_PREFIX = "https://teams.microsoft.com/l/meetup-join/";
  private static final String ERROR_DOMAIN = "meetings.v1";
  /** Every call gets a deadline; the service stops retrying Graph when it runs out. */
  private static final Duration DEADLINE = Duration.ofSeconds(10);

  private static final Metadata.Key<String> ACCEPT_LANGUAGE =
      Metadata.Key.of("accept-language", Metadata.ASCII_STRING_MARSHALLER);
  private static final Metadata.Key<String> TRACEPARENT =
      Metadata.Key.of("traceparent", Metadata.ASCII_STRING_MARSHALLER);
  private static final SecureRandom RANDOM = new SecureRandom();

  /** The service did not answer as documented. */
  static final class Mismatch extends Exception {
    private static final long serialVersionUID = 1L;

    Mismatch(String message) {
      super(message);
    }
  }

  record Config(String address, String tenant, String user, String emulator) {}

  /** A W3C trace context (https://www.w3.org/TR/trace-context/) for one call. */
  record Trace(String traceId, String traceparent) {
    static Trace random() {
      String traceId = randomHex(16);
      return new Trace(traceId, "00-" + traceId + "-" + randomHex(8) + "-01");
    }
  }

  /** The google.rpc details of a failed call (grpc-status-details-bin trailer). */
  record Details(Status.Code code, ErrorInfo info, RetryInfo retry, BadRequest badRequest) {}

  private final MeetingServiceGrpc.MeetingServiceBlockingStub stub;
  private final Config config;

  MeetingLifecycle(MeetingServiceGrpc.MeetingServiceBlockingStub stub, Config config) {
    this.stub = stub;
    this.config = config;
  }

  static void check(boolean ok, String message) throws Mismatch {
    if (!ok) {
      throw new Mismatch(message);
    }
  }

  static String randomHex(int bytes) {
    byte[] buffer = new byte[bytes];
    RANDOM.nextBytes(buffer);
    return HexFormat.of().formatHex(buffer);
  }

  /** A stub with the call's deadline and the accept-language and traceparent metadata. */
  private MeetingServiceGrpc.MeetingServiceBlockingStub callStub(Duration deadline, Trace trace) {
    Metadata headers = new Metadata();
    headers.put(ACCEPT_LANGUAGE, "de-DE");
    headers.put(TRACEPARENT, trace.traceparent());
    return stub.withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
  }

  private static CreateRequest.Builder meetingRequest(String tenant, String user, String subject) {
    Instant start = Instant.now().plus(Duration.ofDays(1));
    return CreateRequest.newBuilder()
        .setTenantId(tenant)
        .setUserId(user)
        // language left empty: the service uses the accept-language metadata instead.
        .setMeeting(
            OnlineMeeting.newBuilder()
                .setSubject(subject + " (meeting-service examples)")
                .setStartDateTime(timestamp(start))
                .setEndDateTime(timestamp(start.plus(Duration.ofMinutes(30)))));
  }

  private static Timestamp timestamp(Instant instant) {
    return Timestamp.newBuilder().setSeconds(instant.getEpochSecond()).setNanos(instant.getNano()).build();
  }

  /** Unpacks the google.rpc.Status that the service puts in the grpc-status-details-bin trailer. */
  static Details details(StatusRuntimeException error) throws InvalidProtocolBufferException {
    ErrorInfo info = null;
    RetryInfo retry = null;
    BadRequest badRequest = null;
    com.google.rpc.Status status = StatusProto.fromThrowable(error);
    if (status != null) {
      for (Any detail : status.getDetailsList()) {
        if (detail.is(ErrorInfo.class)) {
          info = detail.unpack(ErrorInfo.class);
        } else if (detail.is(RetryInfo.class)) {
          retry = detail.unpack(RetryInfo.class);
        } else if (detail.is(BadRequest.class)) {
          badRequest = detail.unpack(BadRequest.class);
        }
      }
    }
    return new Details(error.getStatus().getCode(), info, retry, badRequest);
  }

  /**
   * Makes a call (e.g. {@code stub -> stub.get(request)}) expecting an error with this code and
   * ErrorInfo reason; {@code what} names the call when it succeeds.
   */
  private Details expectError(
      String what,
      Duration deadline,
      Status.Code code,
      String reason,
      Consumer<MeetingServiceGrpc.MeetingServiceBlockingStub> call)
      throws Mismatch, InvalidProtocolBufferException {
    Trace trace = Trace.random();
    try {
      call.accept(callStub(deadline, trace));
    } catch (StatusRuntimeException error) {
      System.out.printf(
          "error as expected: %s: %s%n", error.getStatus().getCode(), error.getStatus().getDescription());
      Details details = details(error);
      ErrorInfo info = details.info();
      check(info != null, "error without google.rpc.ErrorInfo");
      System.out.printf(
          "  ErrorInfo: reason=%s domain=%s metadata=%s%n",
          info.getReason(), info.getDomain(), new TreeMap<>(info.getMetadataMap()));
      check(details.code() == code, "status " + details.code() + ", expected " + code);
      check(info.getReason().equals(reason), "ErrorInfo.reason " + info.getReason() + ", expected " + reason);
      check(info.getDomain().equals(ERROR_DOMAIN), "ErrorInfo.domain " + info.getDomain());
      // The service continues the caller's W3C trace: quote trace_id when reporting a problem.
      String traceId = info.getMetadataOrDefault("trace_id", "");
      check(traceId.equals(trace.traceId()), "ErrorInfo trace_id " + traceId + " is not " + trace.traceId());
      return details;
    }
    throw new Mismatch(what + " succeeded, expected an error");
  }

  /** 1. A successful Create: deadline, accept-language and traceparent metadata, the join URL. */
  OnlineMeeting createMeeting() throws Mismatch {
    CreateResponse response =
        callStub(DEADLINE, Trace.random())
            .create(meetingRequest(config.tenant(), config.user(), "Java example").build());
    String joinUrl = response.getMeeting().getJoinWebUrl();
    System.out.println("created meeting, join URL: " + joinUrl);
    System.out.println("  graph_request_id: " + response.getGraphRequestId());
    check(joinUrl.startsWith(JOIN_URL_PREFIX), "join_web_url " + joinUrl + " does not start with " + JOIN_URL_PREFIX);
    check(response.getCreated(), "created is false for a new meeting");
    check(!response.getGraphRequestId().isEmpty(), "graph_request_id is empty");
    // accept-language: de-DE reached Graph, which localized the join information.
    check(
        response.getMeeting().getJoinInformation().getContent().contains("de-DE"),
        "join_information is not localized for de-DE");
    return response.getMeeting();
  }

  private GetRequest getRequest(OnlineMeeting meeting) {
    return GetRequest.newBuilder()
        .setTenantId(config.tenant())
        .setUserId(config.user())
        .setMeetingId(meeting.getId())
        .build();
  }

  /** 2. Get by id, and Find by the join URL (as from a link someone pasted): the same meeting. */
  void getAndFind(OnlineMeeting meeting) throws Mismatch {
    OnlineMeeting got = callStub(DEADLINE, Trace.random()).get(getRequest(meeting)).getMeeting();
    System.out.println("got meeting: subject \"" + got.getSubject() + "\"");
    check(
        got.getId().equals(meeting.getId()) && got.getSubject().equals(meeting.getSubject()),
        "Get returned another meeting");

    FindRequest find =
        FindRequest.newBuilder()
            .setTenantId(config.tenant())
            .setUserId(config.user())
            .setJoinWebUrl(meeting.getJoinWebUrl())
            .build();
    OnlineMeeting found = callStub(DEADLINE, Trace.random()).find(find).getMeeting();
    System.out.println("found meeting by join URL: subject \"" + found.getSubject() + "\"");
    check(found.getId().equals(meeting.getId()), "Find by join_web_url returned another meeting");
  }

  /** 3. Update changes exactly the fields named in update_mask (snake_case): subject and lobby. */
  void updateMeeting(OnlineMeeting meeting) throws Mismatch {
    String subject = "Java example, renamed (meeting-service examples)";
    UpdateRequest request =
        UpdateRequest.newBuilder()
            .setTenantId(config.tenant())
            .setUserId(config.user())
            .setMeetingId(meeting.getId())
            .setMeeting(
                OnlineMeeting.newBuilder()
                    .setSubject(subject)
                    .setLobbyBypassSettings(
                        LobbyBypassSettings.newBuilder()
                            .setScope(LobbyBypassScope.LOBBY_BYPASS_SCOPE_ORGANIZATION)))
            .setUpdateMask(FieldMask.newBuilder().addAllPaths(List.of("subject", "lobby_bypass_settings")))
            .build();
    OnlineMeeting updated = callStub(DEADLINE, Trace.random()).update(request).getMeeting();
    LobbyBypassScope scope = updated.getLobbyBypassSettings().getScope();
    System.out.printf("updated meeting: subject \"%s\", lobby bypass %s%n", updated.getSubject(), scope);
    check(updated.getSubject().equals(subject), "Update returned subject " + updated.getSubject());
    check(scope == LobbyBypassScope.LOBBY_BYPASS_SCOPE_ORGANIZATION, "Update returned lobby bypass scope " + scope);
  }

  /** 4. Delete; then Get is NOT_FOUND (reason GRAPH_NOT_FOUND). */
  void deleteMeeting(OnlineMeeting meeting) throws Mismatch, InvalidProtocolBufferException {
    callStub(DEADLINE, Trace.random())
        .delete(
            DeleteRequest.newBuilder()
                .setTenantId(config.tenant())
                .setUserId(config.user())
                .setMeetingId(meeting.getId())
                .build());
    System.out.println("deleted meeting");
    GetRequest get = getRequest(meeting);
    expectError("Get after Delete", DEADLINE, Status.Code.NOT_FOUND, "GRAPH_NOT_FOUND", stub -> stub.get(get));
  }

  /** 5. INVALID_ARGUMENT: ErrorInfo (reason INVALID_REQUEST) and a BadRequest naming the field. */
  void invalidRequest() throws Mismatch, InvalidProtocolBufferException {
    CreateRequest request = meetingRequest("not-a-guid", config.user(), "invalid").build();
    Details details =
        expectError("Create", DEADLINE, Status.Code.INVALID_ARGUMENT, "INVALID_REQUEST", stub -> stub.create(request));
    check(details.badRequest() != null, "INVALID_ARGUMENT without a BadRequest");
    boolean named = false;
    for (BadRequest.FieldViolation violation : details.badRequest().getFieldViolationsList()) {
      System.out.printf("  BadRequest: field %s: %s%n", violation.getField(), violation.getDescription());
      named |= violation.getField().equals("tenant_id");
    }
    check(named, "BadRequest does not name the field tenant_id");
  }

  /** 6. PERMISSION_DENIED from Graph (dev mode): ErrorInfo metadata identifies the Graph request. */
  void graphForbidden() throws Mismatch, InvalidProtocolBufferException {
    CreateRequest request = meetingRequest(config.tenant(), NO_POLICY_ORGANIZER, "forbidden").build();
    Map<String, String> metadata =
        expectError("Create", DEADLINE, Status.Code.PERMISSION_DENIED, "GRAPH_FORBIDDEN", stub -> stub.create(request))
            .info()
            .getMetadataMap();
    for (String key : new String[] {"graph_request_id", "client_request_id"}) {
      check(!metadata.getOrDefault(key, "").isEmpty(), "ErrorInfo metadata has no " + key);
    }
  }

  /**
   * 7. RESOURCE_EXHAUSTED (dev mode): RetryInfo says when to retry; the client honours it. The
   * emulator throttles Graph once with Retry-After 2.128 s; with a 2 s deadline the service cannot
   * retry in time and returns RetryInfo. external_id makes the retry idempotent.
   */
  void throttledThenRetried() throws Mismatch, IOException, InterruptedException {
    HttpRequest fault =
        HttpRequest.newBuilder(URI.create(config.emulator().replaceAll("/$", "") + "/_emulator/faults"))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(
                "{\"target\":\"graph\",\"status\":429,\"retryAfter\":\"2.128\",\"times\":1}"))
            .timeout(Duration.ofSeconds(5))
            .build();
    int faultStatus =
        HttpClient.newHttpClient().send(fault, HttpResponse.BodyHandlers.discarding()).statusCode();
    check(faultStatus / 100 == 2, "the emulator refused the fault: HTTP " + faultStatus);

    CreateRequest.Builder builder = meetingRequest(config.tenant(), config.user(), "throttled");
    builder.getMeetingBuilder().setExternalId("java-example-" + randomHex(8));
    CreateRequest request = builder.build();
    Details details =
        expectError(
            "Create",
            Duration.ofSeconds(2),
            Status.Code.RESOURCE_EXHAUSTED,
            "GRAPH_THROTTLED",
            stub -> stub.create(request));
    check(
        details.retry() != null && details.retry().hasRetryDelay(),
        "RESOURCE_EXHAUSTED without RetryInfo.retry_delay");
    com.google.protobuf.Duration retryDelay = details.retry().getRetryDelay();
    Duration delay = Duration.ofSeconds(retryDelay.getSeconds(), retryDelay.getNanos());
    System.out.println("  RetryInfo: retry after " + delay);
    check(delay.equals(Duration.ofMillis(2128)), "RetryInfo.retry_delay is " + delay + ", expected PT2.128S");

    Thread.sleep(delay.toMillis());
    CreateResponse response = callStub(DEADLINE, Trace.random()).create(request);
    String joinUrl = response.getMeeting().getJoinWebUrl();
    System.out.printf("  retried after %s: created=%s, join URL %s%n", delay, response.getCreated(), joinUrl);
    check(joinUrl.startsWith(JOIN_URL_PREFIX), "the retried Create returned no join URL");
  }

  private static String env(String name, String fallback) {
    String value = System.getenv(name);
    return value == null || value.isEmpty() ? fallback : value;
  }

  static Config parseArgs(String[] args) {
    String address = env("MEETING_SERVICE_ADDRESS", "127.0.0.1:50051");
    String tenant = env("MEETING_SERVICE_TENANT", DEV_TENANT);
    String user = env("MEETING_SERVICE_USER", DEV_ORGANIZER);
    String emulator = env("MEETING_SERVICE_EMULATOR", null);
    for (int i = 0; i < args.length; i++) {
      String flag = args[i];
      if (i + 1 >= args.length) {
        throw new IllegalArgumentException(flag + " needs a value");
      }
      String value = args[++i];
      switch (flag) {
        case "--address" -> address = value;
        case "--tenant" -> tenant = value;
        case "--user" -> user = value;
        case "--emulator" -> emulator = value;
        default -> throw new IllegalArgumentException(
            "unknown argument " + flag + "; usage: run.sh [--address HOST:PORT] [--tenant GUID]"
                + " [--user UPN_OR_ID] [--emulator URL]");
      }
    }
    return new Config(address, tenant, user, emulator);
  }

  public static void main(String[] args) throws InterruptedException {
    Config config = parseArgs(args);
    // Plaintext for the dev server; drop usePlaintext() (TLS is the default) in production.
    ManagedChannel channel = ManagedChannelBuilder.forTarget(config.address()).usePlaintext().build();
    int exitCode = 0;
    try {
      MeetingLifecycle example = new MeetingLifecycle(MeetingServiceGrpc.newBlockingStub(channel), config);
      OnlineMeeting meeting = example.createMeeting();
      example.getAndFind(meeting);
      example.updateMeeting(meeting);
      example.deleteMeeting(meeting);
      example.invalidRequest();
      if (config.emulator() != null) {
        example.graphForbidden();
        example.throttledThenRetried();
      } else {
        System.out.println("(no --emulator: skipping the dev-mode 403 and throttling demos)");
      }
      System.out.println("java example: all checks passed");
    } catch (StatusRuntimeException error) {
      Status status = error.getStatus();
      System.err.println("java example: FAILED: " + status.getCode() + ": " + status.getDescription());
      exitCode = 1;
    } catch (Mismatch | IOException error) {
      System.err.println("java example: FAILED: " + error.getMessage());
      exitCode = 1;
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    System.exit(exitCode);
  }
}
