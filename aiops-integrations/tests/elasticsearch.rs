//! The Elasticsearch / OpenSearch log source against a strict local fake: it holds documents
//! (many with equal timestamps, in two indices), opens and closes points in time that each
//! see the documents present when opened, sorts and pages with `search_after` as the real
//! ones do (the tiebreaker's values differ from one PIT to the next, as `_shard_doc`'s do),
//! evaluates the queries the client sends, checks every request body, rotates PIT ids, and
//! answers 429, 503 or slowly when told to.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use aiops_core::time::{Duration, format_rfc3339, parse_timestamp};
use aiops_integrations::IntegrationError;
use aiops_integrations::elasticsearch::{
    ElasticsearchAuth, ElasticsearchClient, ElasticsearchParams, Flavor, LogQuery,
};
use aiops_integrations::http::{HttpParams, Secret, SecretRef};
use aiops_integrations::traits::{LogBatch, LogSource};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use serde_json::{Value, json};

const T0: i64 = 1_700_000_000_000;

#[derive(Debug, Clone)]
enum Trouble {
    Status(u16, Option<&'static str>),
    Slow(StdDuration),
}

#[derive(Debug, Clone)]
struct Doc {
    index: String,
    id: String,
    source: Value,
}

struct Pit {
    /// The documents it sees, with their tiebreaker value in this PIT.
    docs: Vec<(Doc, i64)>,
    /// The id to use next (rotated at each search).
    current: String,
}

struct Fake {
    flavor: Flavor,
    auth: String,
    index: String,
    docs: Vec<Doc>,
    pits: HashMap<u64, Pit>,
    next_pit: u64,
    troubles: VecDeque<Trouble>,
    calls: u32,
    searches: u32,
    closed: u32,
}

type Shared = Arc<Mutex<Fake>>;

fn es_error(status: StatusCode, kind: &str, reason: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": {"type": kind, "reason": reason}, "status": status.as_u16()})),
    )
        .into_response()
}

fn bad(reason: impl Into<String>) -> Response {
    es_error(
        StatusCode::BAD_REQUEST,
        "x_content_parse_exception",
        &reason.into(),
    )
}

async fn gate(s: &Shared, h: &HeaderMap) -> Option<Response> {
    let trouble = {
        let mut f = s.lock().unwrap();
        f.calls += 1;
        f.troubles.pop_front()
    };
    match trouble {
        Some(Trouble::Status(code, ra)) => {
            let mut r = es_error(StatusCode::from_u16(code).unwrap(), "busy", "try later");
            if let Some(ra) = ra {
                r.headers_mut().insert("retry-after", ra.parse().unwrap());
            }
            return Some(r);
        }
        Some(Trouble::Slow(d)) => tokio::time::sleep(d).await,
        None => {}
    }
    let f = s.lock().unwrap();
    if h.get("authorization").and_then(|v| v.to_str().ok()) != Some(f.auth.as_str()) {
        return Some(es_error(
            StatusCode::UNAUTHORIZED,
            "security_exception",
            "missing authentication credentials",
        ));
    }
    None
}

fn ts_of(source: &Value) -> Option<i64> {
    parse_timestamp(source["@timestamp"].as_str()?)
        .ok()
        .map(|(t, _)| t)
}

/// A stable, PIT-dependent pseudo-random number (FNV-1a), so that equal timestamps order
/// differently in each PIT.
fn mix(pit: u64, key: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ pit.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn open(s: &Shared, index: &str, q: &HashMap<String, String>) -> Result<String, Response> {
    let mut f = s.lock().unwrap();
    if index != f.index {
        return Err(es_error(
            StatusCode::NOT_FOUND,
            "index_not_found_exception",
            index,
        ));
    }
    if q.get("keep_alive").map(String::as_str) != Some("1m") || q.len() != 1 {
        return Err(bad(format!("bad PIT parameters {q:?}")));
    }
    let prefix = index.trim_end_matches('*');
    let n = f.next_pit;
    f.next_pit += 1;
    let mut docs: Vec<Doc> = f
        .docs
        .iter()
        .filter(|d| d.index.starts_with(prefix))
        .cloned()
        .collect();
    docs.sort_by_key(|d| mix(n, &format!("{}/{}", d.index, d.id)));
    let docs = docs
        .into_iter()
        .enumerate()
        .map(|(i, d)| (d, i as i64))
        .collect();
    let current = format!("pit-{n}-0");
    f.pits.insert(
        n,
        Pit {
            docs,
            current: current.clone(),
        },
    );
    Ok(current)
}

fn pit_number(id: &str) -> Option<u64> {
    id.strip_prefix("pit-")?.split('-').next()?.parse().ok()
}

async fn es_open(
    State(s): State<Shared>,
    Path(index): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    h: HeaderMap,
    body: String,
) -> Response {
    if let Some(r) = gate(&s, &h).await {
        return r;
    }
    if !body.is_empty() {
        return bad("no body expected");
    }
    match open(&s, &index, &q) {
        Ok(id) => axum::Json(
            json!({"id": id, "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0}}),
        )
        .into_response(),
        Err(r) => r,
    }
}

async fn os_open(
    State(s): State<Shared>,
    Path(index): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    h: HeaderMap,
) -> Response {
    if let Some(r) = gate(&s, &h).await {
        return r;
    }
    match open(&s, &index, &q) {
        Ok(id) => axum::Json(json!({"pit_id": id, "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0}, "creation_time": T0})).into_response(),
        Err(r) => r,
    }
}

fn close(s: &Shared, id: &str) -> bool {
    let mut f = s.lock().unwrap();
    let Some(n) = pit_number(id) else {
        return false;
    };
    if f.pits.get(&n).is_some_and(|p| p.current == id) {
        f.pits.remove(&n);
        f.closed += 1;
        true
    } else {
        false
    }
}

async fn es_close(State(s): State<Shared>, h: HeaderMap, body: String) -> Response {
    if let Some(r) = gate(&s, &h).await {
        return r;
    }
    let v: Value = serde_json::from_str(&body).unwrap_or_default();
    let Some(id) = v["id"]
        .as_str()
        .filter(|_| v.as_object().unwrap().len() == 1)
    else {
        return bad(format!("bad close body {body}"));
    };
    if close(&s, id) {
        axum::Json(json!({"succeeded": true, "num_freed": 1})).into_response()
    } else {
        (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"succeeded": true, "num_freed": 0})),
        )
            .into_response()
    }
}

async fn os_close(State(s): State<Shared>, h: HeaderMap, body: String) -> Response {
    if let Some(r) = gate(&s, &h).await {
        return r;
    }
    let v: Value = serde_json::from_str(&body).unwrap_or_default();
    let ids = match v["pit_id"].as_array() {
        Some(a) if a.len() == 1 && a[0].is_string() => a[0].as_str().unwrap().to_string(),
        _ => return bad(format!("bad close body {body}")),
    };
    let ok = close(&s, &ids);
    axum::Json(json!({"pits": [{"pit_id": ids, "successful": ok}]})).into_response()
}

/// Whether `doc` matches query `q` (the query DSL subset the client sends).
fn matches(q: &Value, doc: &Doc) -> Result<bool, String> {
    let obj = q
        .as_object()
        .filter(|o| o.len() == 1)
        .ok_or("one query per object")?;
    let (kind, body) = obj.iter().next().unwrap();
    let all = |key: &str| -> Result<Vec<&Value>, String> {
        match body.get(key) {
            None => Ok(vec![]),
            Some(Value::Array(a)) => Ok(a.iter().collect()),
            Some(v) => Ok(vec![v]),
        }
    };
    Ok(match kind.as_str() {
        "match_all" => true,
        "bool" => {
            for k in body.as_object().ok_or("bool")?.keys() {
                if !matches!(k.as_str(), "filter" | "must" | "must_not") {
                    return Err(format!("bool.{k} is not supported here"));
                }
            }
            let mut yes = true;
            for c in all("filter")?.into_iter().chain(all("must")?) {
                yes &= matches(c, doc)?;
            }
            for c in all("must_not")? {
                yes &= !matches(c, doc)?;
            }
            yes
        }
        "range" => {
            let r = body.get("@timestamp").ok_or("range on @timestamp only")?;
            if r["format"] != "epoch_millis" || !r["gte"].is_i64() {
                return Err(format!("bad range {r}"));
            }
            ts_of(&doc.source).is_some_and(|t| t >= r["gte"].as_i64().unwrap())
        }
        "exists" => doc
            .source
            .get(body["field"].as_str().ok_or("exists.field")?)
            .is_some(),
        "ids" => body["values"]
            .as_array()
            .ok_or("ids.values")?
            .iter()
            .any(|v| v.as_str() == Some(doc.id.as_str())),
        "term" => {
            let (field, want) = body.as_object().unwrap().iter().next().ok_or("term")?;
            let want = want.as_str().ok_or("term value")?;
            if field == "_index" {
                doc.index == want
            } else {
                doc.source.get(field).and_then(Value::as_str) == Some(want)
            }
        }
        "query_string" => {
            let text = body["query"].as_str().ok_or("query_string.query")?;
            let (field, want) = text.split_once(':').ok_or("field:value only")?;
            doc.source.get(field).and_then(Value::as_str) == Some(want)
        }
        other => return Err(format!("unknown query [{other}]")),
    })
}

fn cmp_sort(a: &[Value], b: &[Value]) -> std::cmp::Ordering {
    let key = |v: &[Value]| -> (i64, i64, String) {
        (
            v[0].as_i64().unwrap_or(i64::MAX),
            v[1].as_i64().unwrap_or(0),
            v[1].as_str().unwrap_or_default().to_string(),
        )
    };
    key(a).cmp(&key(b))
}

async fn search(State(s): State<Shared>, h: HeaderMap, body: String) -> Response {
    if let Some(r) = gate(&s, &h).await {
        return r;
    }
    let v: Value = match serde_json::from_str(&body) {
        Ok(v) => v,
        Err(e) => return bad(e.to_string()),
    };
    let mut f = s.lock().unwrap();
    f.searches += 1;
    let tiebreaker = match f.flavor {
        Flavor::Elasticsearch => "_shard_doc",
        Flavor::Opensearch => "_id",
    };
    let o = v.as_object().unwrap();
    for k in o.keys() {
        if !matches!(
            k.as_str(),
            "size" | "pit" | "sort" | "query" | "track_total_hits" | "search_after"
        ) {
            return bad(format!("unknown key [{k}]"));
        }
    }
    let size = match v["size"].as_u64() {
        Some(n @ 1..=10_000) => n as usize,
        _ => return bad("size"),
    };
    let want_sort =
        json!([{"@timestamp": {"order": "asc", "numeric_type": "date"}}, {tiebreaker: "asc"}]);
    if v["sort"] != want_sort || v["track_total_hits"] != json!(false) {
        return bad(format!("sort or track_total_hits: {v}"));
    }
    if v["pit"]["keep_alive"] != "1m" || v["pit"].as_object().map(|p| p.len()) != Some(2) {
        return bad("pit");
    }
    let id = v["pit"]["id"].as_str().unwrap_or_default().to_string();
    let Some(n) = pit_number(&id).filter(|n| f.pits.get(n).is_some_and(|p| p.current == id)) else {
        return es_error(
            StatusCode::NOT_FOUND,
            "search_context_missing_exception",
            &format!("no search context for {id}"),
        );
    };
    let after = match v.get("search_after") {
        None => None,
        Some(Value::Array(a))
            if a.len() == 2
                && a[0].is_i64()
                && (a[1].is_i64() && tiebreaker == "_shard_doc"
                    || a[1].is_string() && tiebreaker == "_id") =>
        {
            Some(a.clone())
        }
        Some(other) => return bad(format!("search_after {other}")),
    };
    let pit = f.pits.get_mut(&n).unwrap();
    let mut hits = Vec::new();
    for (doc, tb) in &pit.docs {
        match matches(&v["query"], doc) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => return es_error(StatusCode::BAD_REQUEST, "parsing_exception", &e),
        }
        let Some(t) = ts_of(&doc.source) else {
            continue;
        };
        let second = if tiebreaker == "_id" {
            json!(doc.id)
        } else {
            json!(tb)
        };
        let sort = vec![json!(t), second];
        if after
            .as_ref()
            .is_some_and(|a| cmp_sort(&sort, a) != std::cmp::Ordering::Greater)
        {
            continue;
        }
        hits.push(
            json!({"_index": doc.index, "_id": doc.id, "_score": null, "_source": doc.source, "sort": sort}),
        );
    }
    hits.sort_by(|a, b| cmp_sort(a["sort"].as_array().unwrap(), b["sort"].as_array().unwrap()));
    hits.truncate(size);
    // A new id for the same PIT: the client must use the latest.
    let generation: u64 = id.rsplit('-').next().unwrap().parse().unwrap();
    pit.current = format!("pit-{n}-{}", generation + 1);
    axum::Json(json!({
        "pit_id": pit.current, "took": 1, "timed_out": false,
        "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
        "hits": {"max_score": null, "hits": hits},
    }))
    .into_response()
}

async fn start(flavor: Flavor, auth: &str, docs: Vec<Doc>) -> (String, Shared) {
    let s: Shared = Arc::new(Mutex::new(Fake {
        flavor,
        auth: auth.into(),
        index: "logs-*".into(),
        docs,
        pits: HashMap::new(),
        next_pit: 1,
        troubles: VecDeque::new(),
        calls: 0,
        searches: 0,
        closed: 0,
    }));
    let app = match flavor {
        Flavor::Elasticsearch => Router::new()
            .route("/{index}/_pit", post(es_open))
            .route("/_pit", delete(es_close)),
        Flavor::Opensearch => Router::new()
            .route("/{index}/_search/point_in_time", post(os_open))
            .route("/_search/point_in_time", delete(os_close)),
    }
    .route("/_search", post(search))
    .with_state(s.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), s)
}

/// Document `n` of `index` at `T0 + dt` ms.
fn doc(index: &str, n: u32, dt: i64, level: &str) -> Doc {
    Doc {
        index: index.into(),
        id: format!("d{n:03}"),
        source: json!({
            "@timestamp": format_rfc3339(T0 + dt),
            "message": format!("m{n:03}"),
            "level": level,
            "service": {"name": if n.is_multiple_of(2) { "cart" } else { "web" }},
            "host.name": "h1",
        }),
    }
}

fn client(
    url: &str,
    flavor: Flavor,
    auth: ElasticsearchAuth,
    f: impl FnOnce(&mut ElasticsearchParams),
) -> ElasticsearchClient {
    let mut p = ElasticsearchParams::new(url, "logs-*");
    p.flavor = flavor;
    p.auth = Some(auth);
    p.label_fields = vec!["service.name".into(), "host.name".into()];
    p.page_size = 4;
    f(&mut p);
    let http = HttpParams {
        timeout: p.timeout,
        retries: p.retries,
        backoff: Duration(20),
        max_backoff: Duration(80),
        ..HttpParams::default()
    };
    ElasticsearchClient::new(p.validate().unwrap().with_http(http)).unwrap()
}

fn api_key() -> ElasticsearchAuth {
    ElasticsearchAuth::ApiKey(SecretRef::Value(Secret::new("aWQ6c2VjcmV0")))
}

/// Reads until a read returns nothing; returns the messages and the last watermark.
async fn drain(
    c: &dyn LogSource,
    mut wm: Option<String>,
    limit: usize,
    s: &Shared,
) -> (Vec<String>, Option<String>) {
    let mut got = Vec::new();
    let mut last_t = i64::MIN;
    for _ in 0..100 {
        let LogBatch { records, watermark } = c.read(wm.as_deref(), limit).await.unwrap();
        assert!(s.lock().unwrap().pits.is_empty(), "every PIT is closed");
        assert!(records.len() <= limit);
        if records.is_empty() {
            assert_eq!(watermark, wm, "nothing new: the watermark is unchanged");
            return (got, wm);
        }
        for r in records {
            assert!(r.timestamp >= last_t, "time order");
            last_t = r.timestamp;
            got.push(r.message);
        }
        wm = watermark;
    }
    panic!("reads never ended")
}

fn no_duplicates(got: &[String]) {
    let set: BTreeSet<_> = got.iter().collect();
    assert_eq!(set.len(), got.len(), "duplicates in {got:?}");
}

fn corpus() -> Vec<Doc> {
    let mut docs = Vec::new();
    // 3 at +0, 13 at +1000 (across several pages and reads, in two indices), 2 at +1500,
    // 6 at +2000, a document without a timestamp, one in an index outside the pattern.
    let mut n: u32 = 0;
    for (dt, count) in [(0, 3), (1_000, 13), (1_500, 2), (2_000, 6)] {
        for _ in 0..count {
            let index = if n.is_multiple_of(3) {
                "logs-b"
            } else {
                "logs-a"
            };
            docs.push(doc(
                index,
                n,
                dt,
                if n.is_multiple_of(4) { "error" } else { "info" },
            ));
            n += 1;
        }
    }
    let mut untimed = doc("logs-a", 900, 0, "info");
    untimed.source.as_object_mut().unwrap().remove("@timestamp");
    docs.push(untimed);
    docs.push(doc("other", 901, 0, "info"));
    docs
}

#[tokio::test]
async fn equal_timestamps_across_pages_and_reads_are_read_once_in_order() {
    let (url, s) = start(Flavor::Elasticsearch, "ApiKey aWQ6c2VjcmV0", corpus()).await;
    let c = client(&url, Flavor::Elasticsearch, api_key(), |_| {});
    let want: Vec<String> = (0..24).map(|n| format!("m{n:03}")).collect();
    for limit in [1, 3, 4, 7, 100] {
        let (got, wm) = drain(&c, None, limit, &s).await;
        no_duplicates(&got);
        let mut sorted = got.clone();
        sorted.sort();
        assert_eq!(sorted, want, "limit {limit}");
        assert!(wm.unwrap().contains(&(T0 + 2_000).to_string()));
    }

    // Labels and the message come from the configured fields, flat or dotted.
    let first = c.read(None, 1).await.unwrap();
    let r = &first.records[0];
    assert_eq!(r.timestamp, T0);
    assert_eq!(r.labels["host.name"], "h1");
    assert!(matches!(r.labels["service.name"].as_str(), "cart" | "web"));

    // Stop in the middle of the 13 records at +1000, then records arrive: more at +1000 (the
    // watermark's own timestamp), later ones, and a late one before the watermark.
    let (mut seen, mut wm) = (Vec::new(), None);
    while seen.len() < 9 {
        let b = c.read(wm.as_deref(), 3).await.unwrap();
        seen.extend(b.records.into_iter().map(|r| r.message));
        wm = b.watermark;
    }
    assert!(wm.as_deref().unwrap().contains(&(T0 + 1_000).to_string()));
    // A restart: a new client with the persisted watermark reads the same next batch.
    let again = client(&url, Flavor::Elasticsearch, api_key(), |_| {});
    let b1 = c.read(wm.as_deref(), 100).await.unwrap();
    let b2 = again.read(wm.as_deref(), 100).await.unwrap();
    assert_eq!(b1.records.len(), 24 - 9);
    let msgs = |b: &LogBatch| {
        b.records
            .iter()
            .map(|r| r.message.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        msgs(&b1).into_iter().collect::<BTreeSet<_>>(),
        msgs(&b2).into_iter().collect::<BTreeSet<_>>()
    );
    assert_eq!(b1.watermark, b2.watermark);
    {
        let mut f = s.lock().unwrap();
        f.docs.push(doc("logs-a", 100, 1_000, "info"));
        f.docs.push(doc("logs-b", 101, 1_000, "info"));
        f.docs.push(doc("logs-a", 102, 3_000, "info"));
        f.docs.push(doc("logs-b", 103, 3_000, "info"));
        f.docs.push(doc("logs-a", 104, 500, "info"));
    }
    let (rest, _) = drain(&c, wm, 3, &s).await;
    seen.extend(rest);
    no_duplicates(&seen);
    let mut expected = want.clone();
    expected.extend(["m100", "m101", "m102", "m103"].map(String::from));
    expected.sort();
    seen.sort();
    // m104 is older than the watermark: not read (see the module docs).
    assert_eq!(seen, expected);
    assert_eq!(s.lock().unwrap().pits.len(), 0);
}

#[tokio::test]
async fn opensearch_uses_its_pit_endpoints_a_query_and_basic_auth() {
    let (url, s) = start(Flavor::Opensearch, "Basic cmVhZGVyOnB3", corpus()).await;
    let auth = ElasticsearchAuth::Basic {
        username: "reader".into(),
        password: SecretRef::Value(Secret::new("pw")),
    };
    let c = client(&url, Flavor::Opensearch, auth.clone(), |p| {
        p.query = Some(LogQuery::Text("level:error".into()));
    });
    let (got, _) = drain(&c, None, 2, &s).await;
    no_duplicates(&got);
    let mut want: Vec<String> = (0..24)
        .filter(|n| n % 4 == 0)
        .map(|n| format!("m{n:03}"))
        .collect();
    want.sort();
    let mut sorted = got;
    sorted.sort();
    assert_eq!(sorted, want);
    // The same with a query DSL object.
    let c = client(&url, Flavor::Opensearch, auth, |p| {
        p.query = Some(serde_json::from_value(json!({"term": {"level": "error"}})).unwrap());
        p.page_size = 10_000;
    });
    let (got, _) = drain(&c, None, 1_000, &s).await;
    assert_eq!(got.len(), want.len());
    assert!(s.lock().unwrap().closed > 0);
}

#[tokio::test]
async fn busy_failing_and_slow_answers_are_retried_or_reported_and_the_pit_is_closed() {
    let (url, s) = start(Flavor::Elasticsearch, "ApiKey aWQ6c2VjcmV0", corpus()).await;
    let c = client(&url, Flavor::Elasticsearch, api_key(), |p| {
        p.retries = 2;
        p.page_size = 100;
    });
    // 429 with Retry-After on the PIT, 503 on the search: retried, the read succeeds.
    s.lock().unwrap().troubles =
        VecDeque::from([Trouble::Status(429, Some("1")), Trouble::Status(503, None)]);
    let t = std::time::Instant::now();
    let b = c.read(None, 100).await.unwrap();
    assert_eq!(b.records.len(), 24);
    assert!(
        t.elapsed() >= StdDuration::from_secs(1),
        "{:?}",
        t.elapsed()
    );
    // PIT (2 attempts), search... the 503 was the search's first attempt.
    assert_eq!(s.lock().unwrap().calls, 2 + 2 + 1);
    assert!(s.lock().unwrap().pits.is_empty());

    // Out of retries on the search: the error comes back and the PIT is still closed.
    s.lock().unwrap().troubles = VecDeque::from([
        Trouble::Slow(StdDuration::ZERO),
        Trouble::Status(503, None),
        Trouble::Status(503, None),
        Trouble::Status(503, None),
    ]);
    match c.read(None, 100).await {
        Err(IntegrationError::Remote { status: 503, .. }) => {}
        other => panic!("{other:?}"),
    }
    assert!(s.lock().unwrap().pits.is_empty());

    // Slow answers: a timeout, retried; slow every time, an error.
    let slow = client(&url, Flavor::Elasticsearch, api_key(), |p| {
        p.retries = 1;
        p.timeout = Duration(300);
        p.page_size = 100;
    });
    s.lock().unwrap().troubles = VecDeque::from([
        Trouble::Slow(StdDuration::ZERO),
        Trouble::Slow(StdDuration::from_secs(2)),
    ]);
    assert_eq!(slow.read(None, 100).await.unwrap().records.len(), 24);
    s.lock().unwrap().troubles = VecDeque::from([
        Trouble::Slow(StdDuration::ZERO),
        Trouble::Slow(StdDuration::from_secs(2)),
        Trouble::Slow(StdDuration::from_secs(2)),
    ]);
    match slow.read(None, 100).await {
        Err(IntegrationError::Unreachable { attempts: 2, .. }) => {}
        other => panic!("{other:?}"),
    }
    assert!(s.lock().unwrap().pits.is_empty());

    // The server's own errors: a query it refuses, wrong credentials, a bad watermark.
    let refused = client(&url, Flavor::Elasticsearch, api_key(), |p| {
        p.query = Some(serde_json::from_value(json!({"fuzzy": {"level": "eror"}})).unwrap());
    });
    match refused.read(None, 10).await {
        Err(IntegrationError::Remote {
            status: 400,
            error_type,
            message,
            ..
        }) => assert!(
            error_type == "parsing_exception" && message.contains("fuzzy"),
            "{message}"
        ),
        other => panic!("{other:?}"),
    }
    assert!(s.lock().unwrap().pits.is_empty());
    let wrong = ElasticsearchAuth::ApiKey(SecretRef::Value(Secret::new("bm9wZQ==")));
    let e = client(&url, Flavor::Elasticsearch, wrong, |_| {})
        .read(None, 10)
        .await
        .unwrap_err();
    assert!(
        matches!(e, IntegrationError::Remote { status: 401, .. }),
        "{e}"
    );
    assert!(!format!("{e} {e:?}").contains("bm9wZQ"));
    assert!(matches!(
        c.read(Some("[1700000000000, 3]"), 10).await,
        Err(IntegrationError::Config { .. })
    ));
}
