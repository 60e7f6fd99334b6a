#!/usr/bin/env bash
# Regression check for refactors: runs every evaluation and a per-point sample of every
# command with the given `aiops` binary and writes the outputs (timings removed) to OUT.
# Run it with the binary before a change and after, then `diff -r` the two folders: a refactor
# that changes no behaviour leaves no difference.
#
# Usage: scripts/golden.sh BIN OUT [DATA]     (DATA: the public data sets, default ../shared/data)
set -euo pipefail
BIN=$(realpath "$1")
REPO=$(realpath "$(dirname "$0")/..")
OUT=$2
DATA=$(realpath "${3:-$(dirname "$0")/../../shared/data}")
mkdir -p "$OUT"
OUT=$(realpath "$OUT")
cd "$OUT"

# Drops timing fields ("seconds", "*_seconds", "ms_per_*", "elapsed") from JSON output.
strip() {
    jq -S 'walk(if type == "object" then with_entries(select(.key | test("seconds|elapsed|^ms_|_ms$|per_second|lines_per|per_point") | not)) else . end)'
}
run() { # name, then the command
    local name=$1
    shift
    local rc=0
    "$@" >"$name.raw" 2>"$name.err" || rc=$?
    [ "$rc" -eq 0 ] || echo "exit $rc" >>"$name.err"
    if jq -e . "$name.raw" >/dev/null 2>&1; then
        strip <"$name.raw" >"$name.json"
        rm "$name.raw"
    else
        mv "$name.raw" "$name.txt"
    fi
    [ -s "$name.err" ] || rm "$name.err"
}

NAB=$DATA/nab
FILES=(
    "$NAB/data/artificialWithAnomaly/art_daily_jumpsdown.csv"
    "$NAB/data/realKnownCause/ambient_temperature_system_failure.csv"
    "$NAB/data/realTraffic/occupancy_6005.csv"
    "$NAB/data/realAWSCloudwatch/ec2_cpu_utilization_825cc2.csv"
)
DETECTORS=$("$BIN" detectors | awk '/^[a-z_]+ /{print $1}')

echo "detectors: NAB scores and per-point outputs" >&2
for d in $DETECTORS; do
    P=()
    [ "$d" != threshold ] || P=(-p upper=60 -p lower=5)
    run "nab-$d" "$BIN" eval nab --data "$NAB" -d "$d" "${P[@]}" --json
    for f in "${FILES[@]}"; do
        b=$(basename "$f" .csv)
        "$BIN" detect -d "$d" "${P[@]}" -o "detect-$d-$b.csv" "$f" >/dev/null 2>"detect-$d-$b.err" || true
        [ -s "detect-$d-$b.err" ] || rm "detect-$d-$b.err"
        run "detect-$d-$b" "$BIN" detect -d "$d" "${P[@]}" -f json "$f"
    done
done
echo "detectors: event-level scores on telemanom and the synthetic family" >&2
for d in $DETECTORS; do
    [ "$d" != threshold ] || continue # needs bounds per series, which these data do not give
    run "events-telemanom-$d" "$BIN" eval events --data "$DATA/telemanom" -d "$d" --json
    run "events-synthetic-$d" "$BIN" eval events --synthetic -d "$d" --json
done
run nab-default-learn-range "$BIN" eval nab --data "$NAB" -d default --learn-range --json
run nab-contextual-learn-range "$BIN" eval nab --data "$NAB" -d contextual --learn-range --json
run nab-windowedGaussian-results "$BIN" eval nab --data "$NAB" --results "$NAB/results/windowedGaussian" --json
run nab-zscore-params "$BIN" eval nab --data "$NAB" -d zscore -p window=30 -p threshold=4 -p direction=up --json
run detectors-list "$BIN" detectors

echo "multivariate" >&2
python3 - "$NAB" >wide.csv <<'EOF'
import csv, sys
base = sys.argv[1] + "/data/realKnownCause/"
cols = [list(csv.reader(open(base + f)))[1:] for f in ("ec2_request_latency_system_failure.csv", "rogue_agent_key_updown.csv")]
n = min(len(c) for c in cols)
print("timestamp,latency,keys")
for i in range(1, n):
    print(f"{1_400_000_000 + 300 * i},{cols[0][i][1]},{cols[1][i][1]}")
EOF
for d in mahalanobis pca; do
    "$BIN" detect-multi -d "$d" -o "multi-$d.csv" wide.csv >/dev/null 2>&1 || true
    run "multi-$d" "$BIN" detect-multi -d "$d" wide.csv
done

echo "logs" >&2
LH=$DATA/loghub
run loghub "$BIN" eval loghub --data "$LH" --json
run logs-anomaly-60s "$BIN" eval logs-anomaly --data "$LH" --json
run logs-anomaly-1h "$BIN" eval logs-anomaly --data "$LH" --window 1h --json
run logs-anomaly-lines "$BIN" eval logs-anomaly --data "$LH" --window 1000lines --json
run logs-anomaly-params "$BIN" eval logs-anomaly --data "$LH" -p rare_ratio=0.01 -p pca=null --json
for s in HDFS BGL Spark; do
    "$BIN" logs parse -o "parse-$s.csv" "$LH/$s/${s}_2k.log" >/dev/null 2>&1 || true
    run "parse-$s" "$BIN" logs parse "$LH/$s/${s}_2k.log"
    run "logdetect-$s" "$BIN" logs detect --window 100lines --format json "$LH/$s/${s}_2k.log"
done
run logdetect-BGL-time "$BIN" logs detect --log-format '<Label> <Timestamp> <Date> <Node> <Time> <NodeRepeat> <Type> <Component> <Level> <Content>' --format json "$LH/BGL/BGL_2k.log"

echo "forecast" >&2
M4=$DATA/m4
for m in auto naive snaive drift average ets theta otm mstl mstl-log trend ets-AAdA; do
    run "m4-$m" "$BIN" eval m4 --data "$M4" -m "$m" --json
done
F=$NAB/data/realKnownCause/nyc_taxi.csv
for m in auto ets theta mstl trend; do
    run "forecast-$m" "$BIN" forecast -m "$m" --horizon 96 "$F"
done
run capacity "$BIN" capacity --threshold 30000 --horizon 7d "$F"
run capacity-cpu "$BIN" capacity "$REPO/examples/cpu.csv"

echo "alerts" >&2
for seed in 1 7; do
    run "alerts-$seed" "$BIN" eval alerts --cases 200 --seed "$seed" --json
done
run alerts-harsh "$BIN" eval alerts --cases 100 --seed 3 --resends 3 --jitter 60 --hop-delay 45 --background 20 --flapping 5 --services 50 --faults 4 --json

echo "rca" >&2
for seed in 100000 200000; do
    run "rca-$seed" "$BIN" eval rca --cases 100 --seed "$seed" --json
done
run rca-dag "$BIN" eval rca --simulator dag --cases 100 --seed 5 --json
run rca-calibration "$BIN" eval rca --fit-calibration --cases 100 --seed 1000

echo "causal" >&2
PY=$DATA/pyrca
run causal "$BIN" eval causal --data "$PY" --json
run causal-first "$BIN" eval causal --data "$PY" --alpha 0.01 --sepset-rule first --granger-conditional --json
run causal-sim "$BIN" eval causal --simulate 10 --variables 15 --degree 3 --samples 1000 --seed 1 --json
echo "done: $OUT" >&2
