{{/*
The chart name, overridable with nameOverride.
*/}}
{{- define "meeting-service.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name of the release's resources, truncated to 63 characters (DNS label limit).
*/}}
{{- define "meeting-service.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
"chart-version" for the helm.sh/chart label.
*/}}
{{- define "meeting-service.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels on every resource. The chart version is here, never in selectors.
*/}}
{{- define "meeting-service.labels" -}}
helm.sh/chart: {{ include "meeting-service.chart" . }}
{{ include "meeting-service.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: meeting-service
{{- end }}

{{/*
Selector labels: stable for the life of a release.
*/}}
{{- define "meeting-service.selectorLabels" -}}
app.kubernetes.io/name: {{ include "meeting-service.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels of the helm test pod. Deliberately not the selector labels: the Service (and the
NetworkPolicy) must never select the test pod.
*/}}
{{- define "meeting-service.testLabels" -}}
helm.sh/chart: {{ include "meeting-service.chart" . }}
{{ include "meeting-service.testSelectorLabels" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: meeting-service
{{- end }}

{{- define "meeting-service.testSelectorLabels" -}}
app.kubernetes.io/name: {{ printf "%s-test" (include "meeting-service.name" .) | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: test
{{- end }}

{{/*
The ServiceAccount the pods run as.
*/}}
{{- define "meeting-service.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "meeting-service.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The container image: repository:tag, or repository@digest when a digest is given.
*/}}
{{- define "meeting-service.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/*
Name of the Secret the chart creates for tenant credentials given inline (credential.value).
*/}}
{{- define "meeting-service.credentialsSecretName" -}}
{{- printf "%s-credentials" (include "meeting-service.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Where tenant credential files are mounted. */}}
{{- define "meeting-service.credentialsDir" -}}
/etc/meeting-service/credentials
{{- end }}

{{/* The directory of the config file (the ConfigMap). */}}
{{- define "meeting-service.configDir" -}}
/etc/meeting-service/config
{{- end }}

{{/*
File name of a tenant's credential inside the credentials directory and key in the chart's
Secret: "<tenantId>.client-secret" or "<tenantId>.pem". Call with (dict "tenant" $t).
*/}}
{{- define "meeting-service.credentialFile" -}}
{{- if eq .tenant.credential.type "certificate" }}
{{- printf "%s.pem" .tenant.tenantId }}
{{- else }}
{{- printf "%s.client-secret" .tenant.tenantId }}
{{- end }}
{{- end }}

{{/*
Validates what values.schema.json cannot express, and fails with a message naming the value.
Rendered once, from the Deployment.
*/}}
{{- define "meeting-service.validate" -}}
{{- $seen := dict }}
{{- range $i, $t := .Values.tenants }}
{{- $where := printf "tenants[%d] (tenantId %s)" $i $t.tenantId }}
{{- if hasKey $seen $t.tenantId }}
{{- fail (printf "%s: tenantId is listed twice; each tenant has one entry" $where) }}
{{- end }}
{{- $_ := set $seen $t.tenantId true }}
{{- if eq $t.credential.type "workloadIdentity" }}
{{- if not $.Values.workloadIdentity.enabled }}
{{- fail (printf "%s: credential.type workloadIdentity needs workloadIdentity.enabled=true" $where) }}
{{- end }}
{{- if not (or $t.clientId $.Values.workloadIdentity.clientId) }}
{{- fail (printf "%s: clientId is empty and workloadIdentity.clientId is not set" $where) }}
{{- end }}
{{- else }}
{{- if not $t.clientId }}
{{- fail (printf "%s: clientId is required for credential.type %s" $where $t.credential.type) }}
{{- end }}
{{- $hasValue := ne ($t.credential.value | default "") "" }}
{{- $hasExisting := ne (dig "existingSecret" "name" "" $t.credential) "" }}
{{- if eq $hasValue $hasExisting }}
{{- fail (printf "%s: credential.type %s needs exactly one of credential.value and credential.existingSecret.name" $where $t.credential.type) }}
{{- end }}
{{- end }}
{{- end }}
{{- if and .Values.workloadIdentity.enabled (not .Values.workloadIdentity.clientId) }}
{{- fail "workloadIdentity.enabled=true needs workloadIdentity.clientId (the client id the ServiceAccount is annotated with)" }}
{{- end }}
{{- if and .Values.otlp.enabled (not .Values.otlp.endpoint) }}
{{- fail "otlp.enabled=true needs otlp.endpoint (e.g. http://otel-collector.observability:4317)" }}
{{- end }}
{{- if and .Values.metrics.serviceMonitor.enabled (not .Values.metrics.port) }}
{{- fail "metrics.serviceMonitor.enabled=true needs metrics.port: the service exposes no metrics port unless you set one" }}
{{- end }}
{{- if and .Values.metrics.port (eq (int .Values.metrics.port) (int .Values.containerPort)) }}
{{- fail "metrics.port must differ from containerPort" }}
{{- end }}
{{- $min := add (include "meeting-service.shutdownGraceSeconds" .) (include "meeting-service.preStopSleepSeconds" .) }}
{{- if and (not (kindIs "invalid" .Values.terminationGracePeriodSeconds)) (le (int .Values.terminationGracePeriodSeconds) (int $min)) }}
{{- fail (printf "terminationGracePeriodSeconds (%v) must exceed config.server.shutdownGracePeriod plus the preStop sleep (%d s)" .Values.terminationGracePeriodSeconds (int $min)) }}
{{- end }}
{{- end }}

{{/*
config.server.shutdownGracePeriod in whole seconds, rounded up. The schema restricts it to
"<n>ms", "<n>s", "<n>m" or "<n>h".
*/}}
{{- define "meeting-service.shutdownGraceSeconds" -}}
{{- $d := toString .Values.config.server.shutdownGracePeriod }}
{{- $n := int (regexFind "^[0-9]+" $d) }}
{{- if hasSuffix "ms" $d }}
{{- div (add $n 999) 1000 }}
{{- else if hasSuffix "h" $d }}
{{- mul $n 3600 }}
{{- else if hasSuffix "m" $d }}
{{- mul $n 60 }}
{{- else }}
{{- $n }}
{{- end }}
{{- end }}

{{/* Seconds of a preStop `sleep` action, 0 when there is none. */}}
{{- define "meeting-service.preStopSleepSeconds" -}}
{{- int (dig "preStop" "sleep" "seconds" 0 (.Values.lifecycle | default dict)) }}
{{- end }}

{{/*
terminationGracePeriodSeconds: the value, or shutdown grace + preStop sleep + 10 s.
*/}}
{{- define "meeting-service.terminationGracePeriodSeconds" -}}
{{- if kindIs "invalid" .Values.terminationGracePeriodSeconds }}
{{- add (include "meeting-service.shutdownGraceSeconds" .) (include "meeting-service.preStopSleepSeconds" .) 10 }}
{{- else }}
{{- int .Values.terminationGracePeriodSeconds }}
{{- end }}
{{- end }}

{{/*
A probe from values with grpc.port defaulting to containerPort. Call with
(dict "probe" .Values.livenessProbe "root" $).
*/}}
{{- define "meeting-service.probe" -}}
{{- $probe := deepCopy .probe }}
{{- if hasKey $probe "grpc" }}
{{- $grpc := $probe.grpc | default dict }}
{{- if not $grpc.port }}
{{- $_ := set $grpc "port" (int .root.Values.containerPort) }}
{{- end }}
{{- $_ := set $probe "grpc" $grpc }}
{{- end }}
{{- toYaml $probe }}
{{- end }}

{{/* True ("true") when some tenant's credential is stored in the chart's Secret. */}}
{{- define "meeting-service.hasInlineCredentials" -}}
{{- range .Values.tenants }}
{{- if and (ne .credential.type "workloadIdentity") .credential.value }}true{{ end }}
{{- end }}
{{- end }}

{{/* True ("true") when some tenant's credential is a mounted file. */}}
{{- define "meeting-service.hasCredentialFiles" -}}
{{- range .Values.tenants }}
{{- if ne .credential.type "workloadIdentity" }}true{{ end }}
{{- end }}
{{- end }}
