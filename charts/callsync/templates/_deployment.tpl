{{/*
One controller Deployment. The dict holds root (the chart's context), name, labels and selector
(rendered label lines) and args (the scope flags: --default-shard or --shard=KEY; none without
sharding), so the main Deployment and each shard's are rendered by the same lines.
*/}}
{{- define "callsync.deployment" -}}
{{- $ctx := . }}
{{- $root := .root }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $ctx.name }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- $ctx.labels | nindent 4 }}
spec:
  replicas: {{ $root.Values.replicaCount }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- $ctx.selector | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      {{- if eq $root.Values.podAntiAffinity "hard" }}
      # With one replica per node required, a surge pod may have no node to go to.
      maxUnavailable: 1
      maxSurge: 0
      {{- else }}
      # Start the new replica before stopping an old one: a standby is always there.
      maxUnavailable: 0
      maxSurge: 1
      {{- end }}
  template:
    metadata:
      labels:
        {{- $ctx.selector | nindent 8 }}
        {{- with $root.Values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with $root.Values.podAnnotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      serviceAccountName: {{ include "callsync.serviceAccountName" $root }}
      automountServiceAccountToken: true
      enableServiceLinks: false
      terminationGracePeriodSeconds: {{ $root.Values.terminationGracePeriodSeconds }}
      {{- with $root.Values.priorityClassName }}
      priorityClassName: {{ . }}
      {{- end }}
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      # Restricted Pod Security Standard (podSecurityContext).
      {{- with $root.Values.podSecurityContext }}
      securityContext:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: controller
          image: {{ include "callsync.image" $root | quote }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          args:
            - controller
            - {{ printf "--concurrency=%d" (int $root.Values.concurrency) | quote }}
            {{- range $ctx.args }}
            - {{ . | quote }}
            {{- end }}
            {{- range $root.Values.extraArgs }}
            - {{ . | quote }}
            {{- end }}
          env:
            - name: CALLSYNC_POD_NAME
              valueFrom:
                fieldRef:
                  fieldPath: metadata.name
            - name: CALLSYNC_POD_NAMESPACE
              valueFrom:
                fieldRef:
                  fieldPath: metadata.namespace
            # Comma-separated; empty means every namespace.
            - name: CALLSYNC_WATCH_NAMESPACES
              value: {{ join "," (include "callsync.watchNamespaces" $root | fromJsonArray) | quote }}
            # Comma-separated; empty means any endpoint.
            - name: CALLSYNC_ALLOWED_ENDPOINTS
              value: {{ join "," $root.Values.providerEndpoints | quote }}
            - name: CALLSYNC_LEADER_ELECTION
              value: {{ $root.Values.leaderElection.enabled | quote }}
            - name: CALLSYNC_LEASE_NAME
              value: {{ include "callsync.leaseName" $root | quote }}
            - name: CALLSYNC_LEASE_DURATION_SECONDS
              value: {{ $root.Values.leaderElection.leaseDurationSeconds | quote }}
            - name: CALLSYNC_LEASE_GRACE_SECONDS
              value: {{ $root.Values.leaderElection.renewGraceSeconds | quote }}
            - name: CALLSYNC_LISTEN_ADDR
              value: {{ printf "0.0.0.0:%d" (int $root.Values.metricsPort) | quote }}
            - name: CALLSYNC_LOG_FORMAT
              value: {{ $root.Values.logging.format | quote }}
            - name: RUST_LOG
              value: {{ $root.Values.logging.level | quote }}
            {{- with $root.Values.proxy.https }}
            - name: HTTPS_PROXY
              value: {{ . | quote }}
            {{- end }}
            {{- with $root.Values.proxy.http }}
            - name: HTTP_PROXY
              value: {{ . | quote }}
            {{- end }}
            {{- with $root.Values.proxy.noProxy }}
            - name: NO_PROXY
              value: {{ . | quote }}
            {{- end }}
            {{- with $root.Values.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          ports:
            - name: http-metrics
              containerPort: {{ $root.Values.metricsPort }}
              protocol: TCP
          livenessProbe:
            httpGet:
              path: /healthz
              port: http-metrics
            {{- toYaml $root.Values.livenessProbe | nindent 12 }}
          readinessProbe:
            httpGet:
              path: /readyz
              port: http-metrics
            {{- toYaml $root.Values.readinessProbe | nindent 12 }}
          {{- with $root.Values.resources }}
          resources:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- with $root.Values.containerSecurityContext }}
          securityContext:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- with $root.Values.extraVolumeMounts }}
          volumeMounts:
            {{- toYaml . | nindent 12 }}
          {{- end }}
      {{- with $root.Values.extraVolumes }}
      volumes:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $root.Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $root.Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $root.Values.topologySpreadConstraints }}
      topologySpreadConstraints:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- if $root.Values.affinity }}
      affinity:
        {{- toYaml $root.Values.affinity | nindent 8 }}
      {{- else if eq $root.Values.podAntiAffinity "soft" }}
      affinity:
        podAntiAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
            - weight: 100
              podAffinityTerm:
                topologyKey: kubernetes.io/hostname
                labelSelector:
                  matchLabels:
                    {{- $ctx.selector | nindent 20 }}
      {{- else if eq $root.Values.podAntiAffinity "hard" }}
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            - topologyKey: kubernetes.io/hostname
              labelSelector:
                matchLabels:
                  {{- $ctx.selector | nindent 18 }}
      {{- end }}
{{- end }}
