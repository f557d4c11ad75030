{{- define "sspr-bot.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "sspr-bot.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "sspr-bot.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "sspr-bot.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "sspr-bot.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sspr-bot.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: bot
{{- end -}}

{{- define "sspr-bot.redisSelectorLabels" -}}
app.kubernetes.io/name: {{ include "sspr-bot.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: redis
{{- end -}}

{{- define "sspr-bot.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "sspr-bot.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "sspr-bot.secretName" -}}
{{- default (include "sspr-bot.fullname" .) .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "sspr-bot.redisHost" -}}
{{- printf "%s-redis" (include "sspr-bot.fullname" .) -}}
{{- end -}}

{{/*
The config file as the bot reads it: the values' `config`, with the state section pointed
at the release's own Redis when redis.enabled. Rendering stops here with the reason when
the config cannot work in this deployment.
*/}}
{{- define "sspr-bot.config" -}}
{{- $config := deepCopy .Values.config -}}
{{- if .Values.redis.enabled -}}
{{- $url := printf "redis://%s:6379/0" (include "sspr-bot.redisHost" .) -}}
{{- $config = mustMergeOverwrite $config (dict "state" (dict "backend" "redis" "url" $url)) -}}
{{- end -}}
{{- if not (dig "server" "public_url" "" $config) -}}
{{- fail "config.server.public_url is required: the https address people reach the bot at" -}}
{{- end -}}
{{- if gt (int .Values.replicaCount) 1 -}}
{{- if ne (dig "state" "backend" "sqlite" $config) "redis" -}}
{{- fail "replicaCount > 1 needs config.state.backend redis (redis.enabled, or your own Redis): each replica would keep its own sessions and lockouts" -}}
{{- end -}}
{{- if eq (dig "directory" "kind" "embedded" $config) "embedded" -}}
{{- fail "replicaCount > 1 needs config.directory.kind graph or ldap: the embedded directory is a file in each replica's own data folder" -}}
{{- end -}}
{{- end -}}
{{- toYaml $config -}}
{{- end -}}
