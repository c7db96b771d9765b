{{/* The release's objects are named after it. */}}
{{- define "ferris-usage.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "ferris-usage.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "ferris-usage.labels" -}}
{{ include "ferris-usage.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ferrisdx
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "ferris-usage.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "ferris-usage.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The topology file: inline YAML, or one shipped with the chart. */}}
{{- define "ferris-usage.topology" -}}
{{- if .Values.topology.inline -}}
{{- .Values.topology.inline -}}
{{- else -}}
{{- $file := printf "topologies/%s.yaml" .Values.topology.name -}}
{{- $content := .Files.Get $file -}}
{{- if not $content -}}
{{- fail (printf "topology.name %q: no %s in the chart (shipped: default, single-user-gcp, team-databricks, hybrid-onprem-gcp)" .Values.topology.name $file) -}}
{{- end -}}
{{- $content -}}
{{- end -}}
{{- end -}}

{{/* The usage API's pods (`ferris-usage api`): a name of their own, so that the service's selectors never match them. */}}
{{- define "ferris-usage.api.fullname" -}}
{{- printf "%s-api" (include "ferris-usage.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "ferris-usage.api.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}-api
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "ferris-usage.api.labels" -}}
{{ include "ferris-usage.api.selectorLabels" . }}
app.kubernetes.io/component: api
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ferrisdx
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The Kafka client's security and extra librdkafka properties as FERRIS_KAFKA_* variables (after FERRIS_BROKERS):
     shared by every container that talks to Kafka. */}}
{{- define "ferris-usage.kafkaClientEnv" -}}
- name: FERRIS_KAFKA_SECURITY_PROTOCOL
  value: {{ .Values.kafka.securityProtocol }}
{{- if hasPrefix "SASL" .Values.kafka.securityProtocol }}
- name: FERRIS_KAFKA_SASL_MECHANISMS
  value: {{ .Values.kafka.sasl.mechanism }}
- name: FERRIS_KAFKA_SASL_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ required "kafka.sasl.existingSecret is required with a SASL security protocol" .Values.kafka.sasl.existingSecret }}
      key: {{ .Values.kafka.sasl.usernameKey }}
- name: FERRIS_KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.kafka.sasl.existingSecret }}
      key: {{ .Values.kafka.sasl.passwordKey }}
{{- end }}
{{- if .Values.kafka.tls.caSecret }}
- name: FERRIS_KAFKA_SSL_CA_LOCATION
  value: /etc/ferris-usage/kafka-ca/{{ .Values.kafka.tls.caKey }}
{{- end }}
{{- range $name, $value := .Values.kafka.properties }}
- name: {{ printf "FERRIS_KAFKA_%s" ($name | upper | replace "." "_") }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}
