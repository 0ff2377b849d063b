{{/*
The service's config file (TOML) from .Values.config and .Values.tenants. Strings are written
with toJson: a JSON string is also a valid TOML basic string. Secrets are never written here:
tenants point at files under the credentials directory.
*/}}
{{- define "meeting-service.configToml" -}}
# meeting-service configuration, rendered by the Helm chart {{ include "meeting-service.chart" . }}.
# Any key can be overridden with an environment variable MEETING_SERVICE__SECTION__KEY.
{{- with .Values.config }}

[server]
listen = {{ printf "%s:%d" .server.host (int $.Values.containerPort) | toJson }}
default_deadline = {{ .server.defaultDeadline | toString | toJson }}
shutdown_grace_period = {{ .server.shutdownGracePeriod | toString | toJson }}
max_connections = {{ .server.maxConnections | int64 }}
max_concurrent_streams = {{ .server.maxConcurrentStreams | int64 }}

[graph]
cloud = {{ .graph.cloud | toJson }}
api_version = {{ .graph.apiVersion | toString | toJson }}
{{- with .graph.endpoint }}
endpoint = {{ . | toJson }}
{{- end }}
{{- with .identity.authorityHost }}

[identity]
authority_host = {{ . | toJson }}
{{- end }}
{{- with .auth.mode }}

[auth]
mode = {{ . | toJson }}
{{- end }}

[log]
format = {{ .log.format | toJson }}
filter = {{ .log.filter | toJson }}
{{- with .extraToml }}

# config.extraToml
{{ . | trim }}
{{- end }}
{{- end }}
{{- range .Values.tenants }}

[[tenants]]
tenant_id = {{ .tenantId | toJson }}
{{- if eq .credential.type "workloadIdentity" }}
client_id = {{ .clientId | default $.Values.workloadIdentity.clientId | toJson }}
workload_identity = true
{{- else }}
client_id = {{ .clientId | toJson }}
{{- $file := printf "%s/%s" (include "meeting-service.credentialsDir" $) (include "meeting-service.credentialFile" (dict "tenant" .)) }}
{{- if eq .credential.type "certificate" }}
certificate_file = {{ $file | toJson }}
{{- if not (kindIs "invalid" .credential.sendCertificateChain) }}
send_certificate_chain = {{ .credential.sendCertificateChain }}
{{- end }}
{{- else }}
client_secret_file = {{ $file | toJson }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
