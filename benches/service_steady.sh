#!/usr/bin/env bash
# A long remote_write run on one `aiops serve` (127.0.0.1 only): windowed ingest and scoring
# rates as the series mature, then SIGTERM (timed) and a restart (time to ready, and until the
# states left unsaved are replayed and saved). BENCHMARKS.md, "Service".
#
#   DURATION_S=240 [WINDOW_S=15] [SETTLE_S=90] benches/service_steady.sh AIOPS_BIN SERVICE_LOAD_BIN OUT_DIR
#
# Each window's line: time, samples ingested and detected (totals), their rates, then the
# detector's CPU seconds, the checkpoints' seconds and the 429s in the window, the detection
# queue's depth, the server's RSS and the load average. After the restart, SETTLE_S is how
# long to wait for a replay to start (its query reads every pending block and can take
# seconds) before concluding there was nothing to replay.
set -u
AIOPS=$1; LOAD=$2; OUT=$3; DUR=${DURATION_S:-300}; WIN=${WINDOW_S:-15}
mkdir -p "$OUT"; rm -rf "$OUT/data"
[ -f "$OUT/pool.bin" ] || "$LOAD" rw-gen --series 10000 --streams 8 --samples-per-request 2000 --requests 10000 --out "$OUT/pool.bin"
ING=$("$AIOPS" token create --data-dir "$OUT/data" --role ingest --name b)
ADM=$("$AIOPS" token create --data-dir "$OUT/data" --role admin --name a)
PORT=$("$LOAD" port); URL="http://127.0.0.1:$PORT"
start() { AIOPS_LOG=warn "$AIOPS" serve --data-dir "$OUT/data" --listen "127.0.0.1:$PORT" >>"$OUT/server.log" 2>&1 & PID=$!; 
  T0=$(date +%s.%N); until curl -sf "$URL/-/ready" >/dev/null; do sleep 0.05; done; echo "ready after $(echo "$(date +%s.%N) - $T0" | bc) s" | tee -a "$OUT/steady.txt"; }
metric() { curl -sf -H "Authorization: Bearer $ADM" "$URL/metrics" | awk -v m="$1" '$1==m {print $2}'; }
start
echo "loadavg before: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/steady.txt"
"$LOAD" rw-send --pool "$OUT/pool.bin" --url "$URL/api/v1/write" --token "$ING" --connections 4 \
  --duration-s "$DUR" --name aiops --metrics-url "$URL/metrics" --metrics-token "$ADM" --drain-timeout-s 240 > "$OUT/send.json" 2>&1 &
SEND=$!
prev_t=$(date +%s.%N); prev_i=0; prev_d=0; prev_s=0; prev_c=0; prev_r=0
while kill -0 $SEND 2>/dev/null; do
  sleep "$WIN"
  t=$(date +%s.%N); m=$(curl -sf -H "Authorization: Bearer $ADM" "$URL/metrics") || continue
  get() { echo "$m" | awk -v k="$1" '$1==k {print $2}'; }
  i=$(get aiops_ingest_samples_total); d=$(get aiops_detector_samples_total)
  s=$(get aiops_detector_seconds_total); c=$(get aiops_detector_checkpoint_seconds_total)
  r=$(get aiops_ingest_refused_total); q=$(get 'aiops_queue_depth{queue="detection"}')
  [ -z "$i" ] && continue
  echo "$t $i $d $(echo "($i - $prev_i)/($t - $prev_t)" | bc) $(echo "($d - $prev_d)/($t - $prev_t)" | bc) det_s=$(echo "$s - $prev_s" | bc) ckpt_s=$(echo "$c - $prev_c" | bc) refused=$(echo "${r:-0} - $prev_r" | bc) queue=$q rss_kib=$(awk '/^VmRSS:/ {print $2}' /proc/$PID/status) load=$(cut -d' ' -f1 /proc/loadavg)" | tee -a "$OUT/steady.txt"
  prev_t=$t; prev_i=$i; prev_d=$d; prev_s=$s; prev_c=$c; prev_r=${r:-0}
done
cat "$OUT/send.json" >> "$OUT/steady.txt"
du -sh "$OUT/data" | tee -a "$OUT/steady.txt"
T0=$(date +%s.%N); kill -TERM $PID; wait $PID; echo "shutdown took $(echo "$(date +%s.%N) - $T0" | bc) s" | tee -a "$OUT/steady.txt"
du -sh "$OUT/data" | tee -a "$OUT/steady.txt"
grep -i "used its time" "$OUT/server.log" | tail -2 | tee -a "$OUT/steady.txt"
start
# Until the replay is scored and the states saved: the detector counter stops moving.
T0=$(date +%s.%N); last=-1
while true; do sleep 2; d=$(metric aiops_detector_samples_total); saved=$(metric aiops_detector_states_saved_total)
  el=$(echo "$(date +%s.%N) - $T0" | bc)
  if [ "${saved:-0}" != "0" ] && [ "$d" = "$last" ]; then break; fi
  if [ "${saved:-0}" = "0" ] && [ "${d:-0}" = "0" ] && [ "$(echo "$el > ${SETTLE_S:-90}" | bc)" = 1 ]; then break; fi
  last=$d; done
echo "restart: replay scored $d samples, saved $saved states, settled after $(echo "$(date +%s.%N) - $T0" | bc) s (2 s resolution); rss_kib=$(awk '/^VmRSS:/ {print $2}' /proc/$PID/status)" | tee -a "$OUT/steady.txt"
kill -TERM $PID; wait $PID
