//! Logs, traces and metrics.
//! - Logs: a `tracing` subscriber with a RUST_LOG-style filter, JSON lines in production,
//!   human-readable in dev mode.
//! - Traces: when an OTLP endpoint is configured (`telemetry.otlp_endpoint` or the standard
//!   `OTEL_EXPORTER_OTLP_*` variables), an OpenTelemetry layer gives every span a W3C trace id
//!   that continues the caller's `traceparent`, and spans are exported over OTLP (gRPC or
//!   HTTP/protobuf) in batches off the request path (tasks on the Tokio runtime), flushed by
//!   [`TelemetryGuard::shutdown`]. Without one, no OpenTelemetry span is built at all.
//! - Metrics: the instruments in [`Metrics`], exported the same way; a no-op when export is off.

use std::sync::OnceLock;

use opentelemetry::{
    global,
    metrics::{Counter, Histogram, UpDownCounter},
    trace::TracerProvider as _,
    KeyValue,
};
use opentelemetry_otlp::{MetricExporter, SpanExporter, WithExportConfig};
use opentelemetry_sdk::{
    metrics::{periodic_reader_with_async_runtime::PeriodicReader, SdkMeterProvider},
    runtime,
    trace::{span_processor_with_async_runtime::BatchSpanProcessor, SdkTracerProvider},
    Resource,
};
use tracing_subscriber::{layer::SubscriberExt, util::SubscriberInitExt, EnvFilter, Layer};

use crate::config::{LogFormat, LogSettings, OtlpProtocol, TelemetrySettings};

/// Keeps the providers alive; [`TelemetryGuard::shutdown`] flushes them.
pub struct TelemetryGuard {
    tracer: SdkTracerProvider,
    meter: Option<SdkMeterProvider>,
}

impl TelemetryGuard {
    /// Exports what is buffered and stops the exporters. The providers' shutdown blocks until
    /// the export tasks on the runtime answer, so it runs on a blocking thread.
    pub async fn shutdown(self) {
        let TelemetryGuard { tracer, meter } = self;
        let flushed = tokio::task::spawn_blocking(move || {
            if let Some(meter) = meter {
                if let Err(e) = meter.shutdown() {
                    eprintln!("metrics shutdown: {e}");
                }
            }
            if let Err(e) = tracer.shutdown() {
                eprintln!("trace shutdown: {e}");
            }
        });
        if tokio::time::timeout(std::time::Duration::from_secs(10), flushed).await.is_err() {
            eprintln!("telemetry shutdown timed out after 10 s");
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("telemetry: {0}")]
pub struct TelemetryError(String);

/// Where telemetry goes, from the config file and the standard OTEL_* variables (which win).
#[derive(Clone, Debug, PartialEq)]
pub struct ExportTarget {
    /// `None`: the exporter reads `OTEL_EXPORTER_OTLP_ENDPOINT` (and the per-signal variables).
    pub endpoint: Option<String>,
    pub protocol: OtlpProtocol,
}

/// Export is on when an endpoint is configured anywhere and `OTEL_SDK_DISABLED` is not `true`.
pub fn export_target(settings: &TelemetrySettings, env: &dyn Fn(&str) -> Option<String>) -> Option<ExportTarget> {
    if env("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return None;
    }
    let from_env = ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
        .iter()
        .any(|name| env(name).is_some_and(|v| !v.is_empty()));
    if !from_env && settings.otlp_endpoint.is_none() {
        return None;
    }
    let protocol = match env("OTEL_EXPORTER_OTLP_PROTOCOL").as_deref() {
        Some("grpc") => OtlpProtocol::Grpc,
        Some("http/protobuf") => OtlpProtocol::HttpProtobuf,
        _ => settings.otlp_protocol,
    };
    Some(ExportTarget { endpoint: if from_env { None } else { settings.otlp_endpoint.clone() }, protocol })
}

/// Installs the global subscriber and, when configured, the OTLP exporters. `RUST_LOG` wins
/// over `log.filter`. Must run inside the Tokio runtime.
pub fn init(log: &LogSettings, telemetry: &TelemetrySettings) -> Result<TelemetryGuard, TelemetryError> {
    // The OTLP/HTTP exporter builds a reqwest client, which needs rustls's provider (see server.rs).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&log.filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt = match log.format {
        // Lines carry no span context, so the layer sees events only: otherwise it would format
        // every span's fields when the span opens and re-serialize them on every `record`
        // (a quarter of a Create's CPU, see BENCHMARKS.md).
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_filter(tracing_subscriber::filter::filter_fn(|meta| meta.is_event()))
            .boxed(),
        LogFormat::Text => tracing_subscriber::fmt::layer().with_target(false).boxed(),
    };

    let target = export_target(telemetry, &|name| std::env::var(name).ok());
    let resource = resource(telemetry);
    let mut tracer = SdkTracerProvider::builder().with_resource(resource.clone());
    let mut meter = None;
    if let Some(target) = &target {
        tracer =
            tracer.with_span_processor(BatchSpanProcessor::builder(span_exporter(target)?, runtime::Tokio).build());
        let reader = PeriodicReader::builder(metric_exporter(target)?, runtime::Tokio)
            .with_interval(telemetry.metrics_interval)
            .build();
        let provider = SdkMeterProvider::builder().with_resource(resource).with_reader(reader).build();
        global::set_meter_provider(provider.clone());
        meter = Some(provider);
    }
    let tracer = tracer.build();
    global::set_tracer_provider(tracer.clone());
    // Without an exporter the OpenTelemetry layer would build and drop a span per tracing span
    // (another quarter of a Create's CPU); error trace ids then come from the caller's
    // traceparent or a fresh id (grpc/service.rs).
    let otel = target.is_some().then(|| tracing_opentelemetry::layer().with_tracer(tracer.tracer("meeting-service")));
    let _ = tracing_subscriber::registry().with(filter).with(fmt).with(otel).try_init();
    if let Some(target) = target {
        tracing::info!(endpoint = target.endpoint.as_deref().unwrap_or("(from OTEL_EXPORTER_OTLP_*)"), protocol = ?target.protocol, "exporting traces and metrics over OTLP");
    }
    Ok(TelemetryGuard { tracer, meter })
}

fn resource(settings: &TelemetrySettings) -> Resource {
    // The builder reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES; the config names the
    // service only when the environment doesn't.
    let builder = Resource::builder().with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")));
    if std::env::var_os("OTEL_SERVICE_NAME").is_some() {
        builder.build()
    } else {
        builder.with_service_name(settings.service_name.clone()).build()
    }
}

fn span_exporter(target: &ExportTarget) -> Result<SpanExporter, TelemetryError> {
    let built = match (target.protocol, &target.endpoint) {
        (OtlpProtocol::Grpc, Some(endpoint)) => SpanExporter::builder().with_tonic().with_endpoint(endpoint).build(),
        (OtlpProtocol::Grpc, None) => SpanExporter::builder().with_tonic().build(),
        (OtlpProtocol::HttpProtobuf, Some(endpoint)) => {
            SpanExporter::builder().with_http().with_endpoint(signal_url(endpoint, "traces")).build()
        }
        (OtlpProtocol::HttpProtobuf, None) => SpanExporter::builder().with_http().build(),
    };
    built.map_err(|e| TelemetryError(e.to_string()))
}

fn metric_exporter(target: &ExportTarget) -> Result<MetricExporter, TelemetryError> {
    let built = match (target.protocol, &target.endpoint) {
        (OtlpProtocol::Grpc, Some(endpoint)) => MetricExporter::builder().with_tonic().with_endpoint(endpoint).build(),
        (OtlpProtocol::Grpc, None) => MetricExporter::builder().with_tonic().build(),
        (OtlpProtocol::HttpProtobuf, Some(endpoint)) => {
            MetricExporter::builder().with_http().with_endpoint(signal_url(endpoint, "metrics")).build()
        }
        (OtlpProtocol::HttpProtobuf, None) => MetricExporter::builder().with_http().build(),
    };
    built.map_err(|e| TelemetryError(e.to_string()))
}

/// A configured base endpoint gets the signal's path, as the OTLP/HTTP spec does for
/// `OTEL_EXPORTER_OTLP_ENDPOINT`.
fn signal_url(base: &str, signal: &str) -> String {
    format!("{}/v1/{signal}", base.trim_end_matches('/'))
}

/// The service's instruments (OpenTelemetry semantic conventions where one exists). Tenant ids
/// are the only per-tenant attribute: never user ids or meeting ids.
pub struct Metrics {
    /// `rpc.server.duration` (ms) by rpc.method and rpc.grpc.status_code.
    pub rpc_duration: Histogram<f64>,
    /// `rpc.server.active_requests`: calls in flight.
    pub rpc_in_flight: UpDownCounter<i64>,
    /// `http.client.request.duration` (s) of Graph attempts by status and tenant.
    pub graph_duration: Histogram<f64>,
    /// `meeting_service.graph.retries` by reason and tenant.
    pub graph_retries: Counter<u64>,
    /// `meeting_service.token.requests` by tenant and outcome.
    pub token_requests: Counter<u64>,
    /// `meeting_service.token.cache` lookups by tenant and result (hit, miss).
    pub token_cache: Counter<u64>,
    /// `meeting_service.server.connections_refused`: connections closed at `server.max_connections`.
    pub connections_refused: Counter<u64>,
}

/// The instruments, created on first use from the global meter provider (a no-op until
/// [`init`] installs an exporting one).
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let meter = global::meter("meeting-service");
        Metrics {
            rpc_duration: meter
                .f64_histogram("rpc.server.duration")
                .with_unit("ms")
                .with_description("Duration of inbound RPCs")
                .build(),
            rpc_in_flight: meter
                .i64_up_down_counter("rpc.server.active_requests")
                .with_description("RPCs in flight")
                .build(),
            graph_duration: meter
                .f64_histogram("http.client.request.duration")
                .with_unit("s")
                .with_description("Duration of each HTTP request to Microsoft Graph")
                .build(),
            graph_retries: meter
                .u64_counter("meeting_service.graph.retries")
                .with_description("Graph requests retried, by reason")
                .build(),
            token_requests: meter
                .u64_counter("meeting_service.token.requests")
                .with_description("Token requests to the identity platform, by outcome")
                .build(),
            token_cache: meter
                .u64_counter("meeting_service.token.cache")
                .with_description("Token cache lookups, by result")
                .build(),
            connections_refused: meter
                .u64_counter("meeting_service.server.connections_refused")
                .with_description("Connections closed at once because server.max_connections were open")
                .build(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_is_off_unless_configured() {
        let settings = TelemetrySettings::default();
        assert_eq!(export_target(&settings, &|_| None), None);
        let configured =
            TelemetrySettings { otlp_endpoint: Some("http://collector:4317".into()), ..Default::default() };
        assert_eq!(
            export_target(&configured, &|_| None),
            Some(ExportTarget { endpoint: Some("http://collector:4317".into()), protocol: OtlpProtocol::Grpc })
        );
        let env = |name: &str| match name {
            "OTEL_EXPORTER_OTLP_ENDPOINT" => Some("http://otel:4318".to_owned()),
            "OTEL_EXPORTER_OTLP_PROTOCOL" => Some("http/protobuf".to_owned()),
            _ => None,
        };
        assert_eq!(
            export_target(&settings, &env),
            Some(ExportTarget { endpoint: None, protocol: OtlpProtocol::HttpProtobuf })
        );
        let disabled = |name: &str| if name == "OTEL_SDK_DISABLED" { Some("true".to_owned()) } else { env(name) };
        assert_eq!(export_target(&configured, &disabled), None);
        assert_eq!(signal_url("http://otel:4318/", "traces"), "http://otel:4318/v1/traces");
    }
}
