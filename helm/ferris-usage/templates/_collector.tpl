{{/* The collector's objects: named <fullname>-collector, with labels of their own so that the accounting service's
selectors (Deployment, Service, PodDisruptionBudget, NetworkPolicy) never match its pod. */}}
{{- define "ferris-usage.collectorName" -}}
{{- printf "%s-collector" (include "ferris-usage.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "ferris-usage.collectorSelectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}-collector
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "ferris-usage.collectorLabels" -}}
{{ include "ferris-usage.collectorSelectorLabels" . }}
app.kubernetes.io/component: collector
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ferrisdx
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}
