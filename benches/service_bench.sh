#!/usr/bin/env bash
# Service benchmark of `aiops serve`, side by side with its peers in one run, on 127.0.0.1 only
# (BENCHMARKS.md, "Service (aiops serve)").
#
#   benches/service_bench.sh AIOPS_BIN SERVICE_LOAD_BIN [OUT_DIR]
#
# AIOPS_BIN is the `aiops` binary, SERVICE_LOAD_BIN the load generator; build both first:
#
#   cargo build --release -p aiops-server -p aiops-benches
#   benches/service_bench.sh target/release/aiops target/release/service_load
#
# Peers and tools (Debian: apt-get install -y victoria-metrics hey prometheus-alertmanager),
# found on PATH or given by VM_BIN, HEY_BIN, AM_BIN. Knobs (environment):
#   PARTS="rw detect alerts"  which measurements to run
#   KS="2 4 8"                remote_write connections
#   SERIES=10000              distinct series in the remote_write pool
#   POOL_REQUESTS=10000       pre-encoded requests of 2,000 samples (20M samples)
#   DURATION_S=20             seconds of sending per remote_write run
#   RW_VARIANTS="default"     aiops configurations to run against the same load:
#                             default (zero config: `default` detector, fsync per commit),
#                             normal (sqlite_durability: normal, commits not fsynced, like
#                             the peer), zscore (every metric scored by `zscore`)
#   DRAIN_TIMEOUT_S=60        how long to wait after sending for aiops' detection to catch up
#   DETECT_RATE=1000          req/s for /api/v1/anomalies/detect (hey -q per worker x -c)
#   DETECT_WORKERS=4          hey -c
#   DETECT_DURATION=20s       hey -z
#   ALERTS=100000             distinct alerts sent
#   ALERT_BATCH=100           alerts per POST
#   ALERT_SERVICES=10000      distinct `service` label values
#   ALERT_CONNECTIONS=2       concurrent alert senders
# Every server gets a fresh data directory under OUT_DIR (default: a new temporary directory)
# and is stopped at the end; results are JSON lines and hey's reports in OUT_DIR.
set -euo pipefail

if [ $# -lt 2 ]; then
    sed -n '2,27p' "$0" >&2
    exit 2
fi
AIOPS=$(realpath "$1")
LOAD=$(realpath "$2")
OUT=${3:-$(mktemp -d -t aiops-service-bench.XXXXXX)}
mkdir -p "$OUT"
OUT=$(realpath "$OUT")
VM_BIN=${VM_BIN:-victoria-metrics}
HEY_BIN=${HEY_BIN:-hey}
AM_BIN=${AM_BIN:-prometheus-alertmanager}
PARTS=${PARTS:-rw detect alerts}
KS=${KS:-2 4 8}
SERIES=${SERIES:-10000}
POOL_REQUESTS=${POOL_REQUESTS:-10000}
DURATION_S=${DURATION_S:-20}
RW_VARIANTS=${RW_VARIANTS:-default}
DRAIN_TIMEOUT_S=${DRAIN_TIMEOUT_S:-60}
DETECT_RATE=${DETECT_RATE:-1000}
DETECT_WORKERS=${DETECT_WORKERS:-4}
DETECT_DURATION=${DETECT_DURATION:-20s}
ALERTS=${ALERTS:-100000}
ALERT_BATCH=${ALERT_BATCH:-100}
ALERT_SERVICES=${ALERT_SERVICES:-10000}
ALERT_CONNECTIONS=${ALERT_CONNECTIONS:-2}

PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
    done
    for p in "${PIDS[@]}"; do
        wait "$p" 2>/dev/null || true
    done
}
trap cleanup EXIT

log() { echo "[$(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)] $*" >&2; }

# wait_http URL: until it answers 200 (30 s at most).
wait_http() {
    for _ in $(seq 300); do
        if curl -fsS -o /dev/null "$1" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "no answer from $1" >&2
    return 1
}

# stop PID: SIGTERM and wait.
stop() {
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    local keep=()
    for p in "${PIDS[@]}"; do
        [ "$p" = "$1" ] || keep+=("$p")
    done
    PIDS=("${keep[@]}")
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# start_aiops NAME [CONFIG_YAML]: a fresh `aiops serve` (zero config unless given); sets
# AIOPS_PID, AIOPS_URL and the tokens ING (ingest), ADM (admin), OPR (operator).
start_aiops() {
    local dir="$OUT/$1"
    rm -rf "$dir"
    mkdir -p "$dir"
    local cfg=()
    if [ -n "${2:-}" ]; then
        printf '%s\n' "$2" >"$dir/aiops.yaml"
        cfg=(--config "$dir/aiops.yaml")
    fi
    ING=$("$AIOPS" token create --data-dir "$dir/data" --role ingest --name bench)
    ADM=$("$AIOPS" token create --data-dir "$dir/data" --role admin --name bench-admin)
    OPR=$("$AIOPS" token create --data-dir "$dir/data" --role operator --name bench-operator)
    local port
    port=$("$LOAD" port)
    AIOPS_URL="http://127.0.0.1:$port"
    AIOPS_LOG=warn "$AIOPS" serve "${cfg[@]}" --data-dir "$dir/data" --listen "127.0.0.1:$port" \
        >"$dir/stdout.log" 2>"$dir/stderr.log" &
    AIOPS_PID=$!
    PIDS+=("$AIOPS_PID")
    wait_http "$AIOPS_URL/-/ready"
}

# start_vm NAME: a fresh VictoriaMetrics; sets VM_PID, VM_URL.
start_vm() {
    local dir="$OUT/$1"
    rm -rf "$dir"
    mkdir -p "$dir"
    local port
    port=$("$LOAD" port)
    VM_URL="http://127.0.0.1:$port"
    "$VM_BIN" -storageDataPath "$dir/data" -httpListenAddr "127.0.0.1:$port" \
        -retentionPeriod 1y -loggerLevel ERROR >"$dir/stdout.log" 2>"$dir/stderr.log" &
    VM_PID=$!
    PIDS+=("$VM_PID")
    wait_http "$VM_URL/health"
}

# start_am NAME: a fresh Alertmanager (no cluster, group by service); sets AM_PID, AM_URL.
start_am() {
    local dir="$OUT/$1"
    rm -rf "$dir"
    mkdir -p "$dir/data"
    cat >"$dir/alertmanager.yml" <<'EOF'
route:
  receiver: blackhole
  group_by: [service]
receivers:
  - name: blackhole
EOF
    local port
    port=$("$LOAD" port)
    AM_URL="http://127.0.0.1:$port"
    "$AM_BIN" --config.file "$dir/alertmanager.yml" --storage.path "$dir/data" \
        --web.listen-address "127.0.0.1:$port" --cluster.listen-address "" \
        --log.level warn >"$dir/stdout.log" 2>"$dir/stderr.log" &
    AM_PID=$!
    PIDS+=("$AM_PID")
    wait_http "$AM_URL/-/ready"
}

log "results in $OUT"
{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "cpus: $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
    echo "memory: $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
    echo "loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "aiops: $("$AIOPS" --version 2>/dev/null || echo '?')"
    echo "victoria-metrics: $(dpkg-query -W -f '${Version}' victoria-metrics 2>/dev/null || echo '?')"
    echo "hey: $(dpkg-query -W -f '${Version}' hey 2>/dev/null || echo '?')"
    echo "alertmanager: $("$AM_BIN" --version 2>&1 | head -1 || echo '?')"
} | tee "$OUT/machine.txt" >&2

case " $PARTS " in *" rw "*)
    POOL="$OUT/rw-pool.bin"
    log "encoding the remote_write pool ($SERIES series, $POOL_REQUESTS requests)"
    "$LOAD" rw-gen --series "$SERIES" --streams 8 --samples-per-request 2000 \
        --requests "$POOL_REQUESTS" --out "$POOL"
    for k in $KS; do
        for v in $RW_VARIANTS; do
            case $v in
            default) cfg="" ;;
            normal) cfg="sqlite_durability: normal" ;;
            zscore) cfg=$'metrics:\n  detectors:\n    - {metric: "*", detector: zscore}' ;;
            *) echo "unknown RW_VARIANTS entry $v" >&2; exit 2 ;;
            esac
            start_aiops "aiops-rw-k$k-$v" "$cfg"
            log "remote_write -> aiops ($v), K=$k"
            echo "{\"loadavg_before\": \"$(cut -d' ' -f1-3 /proc/loadavg)\"}" >>"$OUT/remote_write.jsonl"
            "$LOAD" rw-send --pool "$POOL" --url "$AIOPS_URL/api/v1/write" --token "$ING" \
                --connections "$k" --duration-s "$DURATION_S" --name "aiops-$v" \
                --metrics-url "$AIOPS_URL/metrics" --metrics-token "$ADM" \
                --drain-timeout-s "$DRAIN_TIMEOUT_S" \
                | tee -a "$OUT/remote_write.jsonl"
            echo "{\"target\": \"aiops-$v\", \"connections\": $k, \"rss_kib_after\": $(rss_kib "$AIOPS_PID")}" \
                | tee -a "$OUT/remote_write.jsonl"
            stop "$AIOPS_PID"
        done
        start_vm "vm-rw-k$k"
        log "remote_write -> VictoriaMetrics, K=$k"
        "$LOAD" rw-send --pool "$POOL" --url "$VM_URL/api/v1/write" \
            --connections "$k" --duration-s "$DURATION_S" --name victoria-metrics \
            | tee -a "$OUT/remote_write.jsonl"
        echo "{\"target\": \"victoria-metrics\", \"connections\": $k, \"rss_kib_after\": $(rss_kib "$VM_PID")}" \
            | tee -a "$OUT/remote_write.jsonl"
        stop "$VM_PID"
    done
    rm -f "$POOL"
    ;;
esac

case " $PARTS " in *" detect "*)
    start_aiops "aiops-detect"
    q=$((DETECT_RATE / DETECT_WORKERS))
    for d in default zscore; do
        body="$OUT/detect-$d.json"
        "$LOAD" detect-body --points 1000 --detector "$d" --out "$body"
        code=$(curl -sS -o "$OUT/detect-$d.answer.json" -w '%{http_code}' -X POST \
            -H "Authorization: Bearer $OPR" -H 'Content-Type: application/json' \
            --data-binary "@$body" "$AIOPS_URL/api/v1/anomalies/detect")
        [ "$code" = 200 ] || { echo "detect ($d) answered $code" >&2; exit 1; }
        # Warm-up, then the fixed-rate run.
        "$HEY_BIN" -z 3s -q "$q" -c "$DETECT_WORKERS" -m POST -T application/json -D "$body" \
            -H "Authorization: Bearer $OPR" "$AIOPS_URL/api/v1/anomalies/detect" >/dev/null
        log "detect ($d): $DETECT_WORKERS workers x $q req/s for $DETECT_DURATION"
        "$HEY_BIN" -z "$DETECT_DURATION" -q "$q" -c "$DETECT_WORKERS" -m POST -T application/json \
            -D "$body" -H "Authorization: Bearer $OPR" "$AIOPS_URL/api/v1/anomalies/detect" \
            >"$OUT/hey-detect-$d.txt"
        p50=$(awk '/ 50%% in / || / 50% in / {print $3}' "$OUT/hey-detect-$d.txt")
        p99=$(awk '/ 99% in / {print $3}' "$OUT/hey-detect-$d.txt")
        rps=$(awk '/Requests\/sec:/ {print $2}' "$OUT/hey-detect-$d.txt")
        codes=$(grep -E '^\s+\[[0-9]+\]' "$OUT/hey-detect-$d.txt" | tr -s ' ' | tr '\n' ';')
        echo "{\"detector\": \"$d\", \"target_rps\": $DETECT_RATE, \"rps\": $rps, \"p50_s\": ${p50:-null}, \"p99_s\": ${p99:-null}, \"codes\": \"$codes\", \"loadavg\": \"$(cut -d' ' -f1-3 /proc/loadavg)\"}" \
            | tee -a "$OUT/detect.jsonl"
    done
    stop "$AIOPS_PID"
    ;;
esac

case " $PARTS " in *" alerts "*)
    start_aiops "aiops-alerts"
    idle=$(rss_kib "$AIOPS_PID")
    log "alerts -> aiops: $ALERTS alerts, $ALERT_BATCH per request, $ALERT_CONNECTIONS connections"
    "$LOAD" alerts --url "$AIOPS_URL/api/v2/alerts" --token "$ING" --alerts "$ALERTS" \
        --per-request "$ALERT_BATCH" --services "$ALERT_SERVICES" \
        --connections "$ALERT_CONNECTIONS" --name aiops | tee -a "$OUT/alerts.jsonl"
    sleep 5
    firing=$(curl -fsS -H "Authorization: Bearer $ADM" "$AIOPS_URL/api/v1/alerts?status=firing&limit=1" | jq .total)
    incidents=$(curl -fsS -H "Authorization: Bearer $ADM" "$AIOPS_URL/api/v1/incidents?limit=1" | jq .total)
    echo "{\"target\": \"aiops\", \"rss_kib_idle\": $idle, \"rss_kib_active\": $(rss_kib "$AIOPS_PID"), \"firing\": $firing, \"incidents\": $incidents, \"loadavg\": \"$(cut -d' ' -f1-3 /proc/loadavg)\"}" \
        | tee -a "$OUT/alerts.jsonl"
    stop "$AIOPS_PID"

    start_am "am-alerts"
    idle=$(rss_kib "$AM_PID")
    log "alerts -> Alertmanager"
    "$LOAD" alerts --url "$AM_URL/api/v2/alerts" --alerts "$ALERTS" \
        --per-request "$ALERT_BATCH" --services "$ALERT_SERVICES" \
        --connections "$ALERT_CONNECTIONS" --name alertmanager | tee -a "$OUT/alerts.jsonl"
    sleep 5
    # Every state (active, suppressed, unprocessed: not yet flushed by its group).
    active=$(curl -fsS "$AM_URL/metrics" | awk '/^alertmanager_alerts\{state=/ {n += $2} END {print n}')
    listed=$(curl -fsS "$AM_URL/api/v2/alerts?active=true&silenced=true&inhibited=true&unprocessed=true" | jq length)
    echo "{\"target\": \"alertmanager\", \"rss_kib_idle\": $idle, \"rss_kib_active\": $(rss_kib "$AM_PID"), \"firing\": ${active:-null}, \"listed\": ${listed:-null}, \"loadavg\": \"$(cut -d' ' -f1-3 /proc/loadavg)\"}" \
        | tee -a "$OUT/alerts.jsonl"
    stop "$AM_PID"
    ;;
esac

log "done: $OUT"
