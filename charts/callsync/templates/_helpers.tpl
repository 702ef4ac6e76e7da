{{/* The chart's name, truncated to a DNS label. */}}
{{- define "callsync.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: release-chart, or the release name when it already holds the chart name. */}}
{{- define "callsync.fullname" -}}
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

{{- define "callsync.selectorLabels" -}}
app.kubernetes.io/name: {{ include "callsync.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "callsync.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "callsync.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: callsync
{{- end }}

{{- define "callsync.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "callsync.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "callsync.leaseName" -}}
{{- default (include "callsync.fullname" .) .Values.leaderElection.leaseName }}
{{- end }}

{{- define "callsync.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
What the controller may do to callsync's own resources, Secrets (ledger shards it owns and the
credentials CallProviders reference), ConfigMaps (ContactList sources) and Events, in the
namespaces it watches. One list, used by the ClusterRole (all namespaces) or by each Role
(namespaced mode), so the two modes cannot drift apart.
*/}}
{{- define "callsync.watchedRules" -}}
- apiGroups: ["callsync.io"]
  resources: ["calltasks", "contactlists", "callproviders"]
  verbs: ["get", "list", "watch"]
# The cleanup finalizer is added and removed with a JSON patch of the CallTask.
- apiGroups: ["callsync.io"]
  resources: ["calltasks"]
  verbs: ["patch"]
# Status is written with server-side apply (a patch) on the status subresource.
- apiGroups: ["callsync.io"]
  resources: ["calltasks/status", "contactlists/status", "callproviders/status"]
  verbs: ["get", "patch", "update"]
# Ledger Secrets carry a controller ownerReference to their CallTask; with
# OwnerReferencesPermissionEnforcement that needs update on the owner's finalizers.
- apiGroups: ["callsync.io"]
  resources: ["calltasks/finalizers"]
  verbs: ["update"]
# Ledger Secrets (type callsync.io/ledger) are created, replaced and deleted; provider credential
# Secrets are read and watched. RBAC cannot select by Secret type, so this covers both.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch", "create", "update", "delete", "deletecollection"]
# ContactList sources (configMapRef).
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}

{{/*
The namespaces callsync watches, as a JSON list: [] = every namespace (clusterWide), else
watchNamespaces, else the release namespace alone (the least-privilege default).
*/}}
{{- define "callsync.watchNamespaces" -}}
{{- if .Values.clusterWide -}}
[]
{{- else if .Values.watchNamespaces -}}
{{ toJson .Values.watchNamespaces }}
{{- else -}}
{{ toJson (list .Release.Namespace) }}
{{- end -}}
{{- end -}}

{{/*
Sharding (values sharding.shards): one Deployment per shard key beside the main one, which then
runs as the default shard. A shard's pods carry app.kubernetes.io/name <name>-shard, so that no
shard pod matches the main Deployment's selector (immutable, and the same as without sharding)
and the shards' selectors differ in callsync.io/shard alone.
*/}}
{{- define "callsync.shardName" -}}
{{- printf "%s-shard" (include "callsync.name" . | trunc 57 | trimSuffix "-") }}
{{- end }}

{{/* Selector labels of every shard's pods (the shards' Service, ServiceMonitor and NetworkPolicy). */}}
{{- define "callsync.shardsSelectorLabels" -}}
app.kubernetes.io/name: {{ include "callsync.shardName" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of the objects that serve every shard. */}}
{{- define "callsync.shardsLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "callsync.shardsSelectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: callsync
{{- end }}

{{/*
The workloads to render, as a JSON list of dicts (name, key, args): the main Deployment, then
one per shard. Without shards the main one has no scope flag (it reconciles every CallTask);
with shards it takes the unlabelled ones (--default-shard) — otherwise it would also reconcile
every shard's CallTasks, and without it no controller would keep CallProvider status.
*/}}
{{- define "callsync.workloads" -}}
{{- $fullname := include "callsync.fullname" . }}
{{- $shards := .Values.sharding.shards }}
{{- $list := list (dict "name" $fullname "key" "" "args" (ternary (list "--default-shard") (list) (gt (len $shards) 0))) }}
{{- range $shards }}
{{- $list = append $list (dict "name" (printf "%s-shard-%s" $fullname .) "key" . "args" (list (printf "--shard=%s" .))) }}
{{- end }}
{{- toJson $list }}
{{- end }}

{{/* The label lines of a workload (dict root, key): the chart's for the main one. */}}
{{- define "callsync.workloadLabels" -}}
{{- if .key }}
{{- include "callsync.shardsLabels" .root }}
callsync.io/shard: {{ .key | quote }}
{{- else }}
{{- include "callsync.labels" .root }}
{{- end }}
{{- end }}

{{- define "callsync.workloadSelectorLabels" -}}
{{- if .key }}
{{- include "callsync.shardsSelectorLabels" .root }}
callsync.io/shard: {{ .key | quote }}
{{- else }}
{{- include "callsync.selectorLabels" .root }}
{{- end }}
{{- end }}
