{{/* The release's name for everything it makes: <release>-baton, or the release alone when it says baton already. */}}
{{- define "baton.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "baton.common" -}}
app.kubernetes.io/part-of: baton
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{/* Labels of what the release makes once (Secrets, the ConfigMap). */}}
{{- define "baton.labels" -}}
{{ include "baton.common" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of one service's objects; call with (dict "root" $ "name" "router"). */}}
{{- define "baton.serviceLabels" -}}
{{ include "baton.common" .root }}
{{ include "baton.selector" . }}
{{- end -}}

{{/* Selector labels of one service; call with (dict "root" $ "name" "router"). */}}
{{- define "baton.selector" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{- define "baton.secretName" -}}
{{- default (printf "%s-secrets" (include "baton.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* The service's settings prefix: human-queue -> HUMAN_QUEUE. */}}
{{- define "baton.envPrefix" -}}
{{- . | upper | replace "-" "_" -}}
{{- end -}}

{{- define "baton.image" -}}
{{- $image := .root.Values.image -}}
{{- printf "%s/%s%s:%s" $image.registry $image.prefix .name (default .root.Chart.AppVersion $image.tag) -}}
{{- end -}}
