//! Every example of `docs/reference.md` loads: each fenced block is written to a file in one
//! temporary folder and checked with the `aiops` binary, as its info string says
//! (`<language> <tag> [key=value ...]`; the tags are listed in the page's "About the
//! examples"). A block with an unknown tag, or an untagged block other than `text`, fails, so
//! no example goes unchecked. Only the binary is used: no library module path to keep up to
//! date.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// Every tag the page may use; each must appear at least once.
const TAGS: &[&str] = &[
    "metrics",
    "values",
    "wide",
    "rca-metrics",
    "detector-params",
    "topology",
    "alerts",
    "alerts-config",
    "runbook",
    "log",
    "loghub-settings",
    "causal-data",
    "causal-graph",
    "causal-knowledge",
    "run",
    "service-config",
    "workflow",
    "workflow-event",
    "workflow-remediation",
];

/// One fenced block of the page.
#[derive(Debug)]
struct Block {
    /// 1-based line of the opening fence.
    line: usize,
    lang: String,
    tag: Option<String>,
    attrs: BTreeMap<String, String>,
    body: String,
}

impl Block {
    fn attr(&self, key: &str) -> Option<&str> {
        self.attrs.get(key).map(String::as_str)
    }

    /// The file the block is written to, relative to the work folder.
    fn file(&self) -> PathBuf {
        match self.attr("file") {
            Some(f) => PathBuf::from(f),
            None => {
                let ext = match self.lang.as_str() {
                    "markdown" => "md",
                    "text" => "txt",
                    other => other,
                };
                PathBuf::from(format!("example-{}.{ext}", self.line))
            }
        }
    }

    fn what(&self) -> String {
        format!(
            "docs/reference.md:{} ({} {})",
            self.line,
            self.lang,
            self.tag.as_deref().unwrap_or("-")
        )
    }
}

/// Splits the page into fenced blocks (``` fences, possibly indented).
fn blocks(text: &str) -> Result<Vec<Block>, String> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((i, line)) = lines.next() {
        let trimmed = line.trim_start();
        let Some(info) = trimmed.strip_prefix("```") else {
            continue;
        };
        let indent = line.len() - trimmed.len();
        let mut words = info.split_whitespace();
        let lang = words.next().unwrap_or("").to_string();
        let tag = words.next().map(str::to_string);
        let mut attrs = BTreeMap::new();
        for w in words {
            let (k, v) = w
                .split_once('=')
                .ok_or_else(|| format!("line {}: attribute {w:?} is not key=value", i + 1))?;
            attrs.insert(k.to_string(), v.to_string());
        }
        let mut body = String::new();
        let mut closed = false;
        for (_, l) in lines.by_ref() {
            if l.trim() == "```" {
                closed = true;
                break;
            }
            body.push_str(l.get(indent..).unwrap_or(l.trim_start()));
            body.push('\n');
        }
        if !closed {
            return Err(format!("line {}: the block is never closed", i + 1));
        }
        out.push(Block {
            line: i + 1,
            lang,
            tag,
            attrs,
            body,
        });
    }
    Ok(out)
}

/// The work folder and the runner of the binary.
struct Ctx {
    dir: PathBuf,
}

impl Ctx {
    fn aiops(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_aiops"))
            .args(args)
            .current_dir(&self.dir)
            .output()
            .expect("run aiops")
    }

    fn path(&self, rel: &Path) -> String {
        self.dir.join(rel).display().to_string()
    }

    fn write(&self, rel: &Path, text: &str) {
        let path = self.dir.join(rel);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
}

/// Stdout of a successful run, or the error with stderr.
fn ok(o: Output, args: &[&str]) -> Result<String, String> {
    if o.status.success() {
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    } else {
        Err(format!(
            "`aiops {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr).trim()
        ))
    }
}

fn run(ctx: &Ctx, args: &[&str]) -> Result<String, String> {
    ok(ctx.aiops(args), args)
}

fn json(text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| format!("output is not JSON ({e}): {text}"))
}

/// Compares an attribute (`key=N`) with a number of the output.
fn expect_count(b: &Block, key: &str, got: Option<u64>) -> Result<(), String> {
    match b.attr(key) {
        None => Ok(()),
        Some(want) if want.parse::<u64>().ok() == got => Ok(()),
        Some(want) => Err(format!("expected {key}={want}, got {got:?}")),
    }
}

/// A probe alert on `service`, for configurations and topologies without an input of their
/// own.
fn probe(ctx: &Ctx, service: &str) -> Result<String, String> {
    let rel = PathBuf::from(format!("probe-{service}.jsonl"));
    ctx.write(
        &rel,
        &format!(
            "{{\"labels\": {{\"alertname\": \"Probe\", \"service\": {}}}, \"startsAt\": \"2024-01-06T10:00:00Z\"}}\n",
            serde_json::to_string(service).map_err(|e| e.to_string())?
        ),
    );
    Ok(ctx.path(&rel))
}

/// A generated hourly series for detector parameters: a daily cycle, noise-free, with a spike.
fn series(ctx: &Ctx) -> String {
    let rel = PathBuf::from("generated-series.csv");
    let mut text = String::from("timestamp,value\n");
    for i in 0..600i64 {
        let v = 50.0
            + 10.0 * ((i % 24) as f64 * std::f64::consts::TAU / 24.0).sin()
            + if i == 500 { 60.0 } else { 0.0 }
            + ((i * 7919) % 13) as f64 / 10.0;
        text.push_str(&format!("{},{v:.3}\n", 1_704_067_200 + 3600 * i));
    }
    ctx.write(&rel, &text);
    ctx.path(&rel)
}

fn check(ctx: &Ctx, b: &Block, tag: &str) -> Result<(), String> {
    let file = b.file();
    let f = ctx.path(&file);
    match tag {
        "metrics" => {
            let v = json(&run(ctx, &["detect", &f, "--format", "json"])?)?;
            expect_count(b, "points", v["points"].as_u64())
        }
        "values" => {
            let out = run(ctx, &["forecast", &f, "--horizon", "3"])?;
            if out.lines().count() != 4 {
                return Err(format!("expected a header and 3 steps, got:\n{out}"));
            }
            Ok(())
        }
        "wide" => {
            let v = json(&run(ctx, &["detect-multi", &f, "--format", "json"])?)?;
            expect_count(b, "rows", v["rows"].as_u64())
        }
        "rca-metrics" => {
            let topo = b.attr("topology").ok_or("needs topology=FILE")?;
            let topo = ctx.path(Path::new(topo));
            let mut args = vec!["rca", "--topology", &topo, "--metrics", &f];
            if let Some(t) = b.attr("anomaly-time") {
                args.extend(["--anomaly-time", t]);
            }
            let v = json(&run(ctx, &args)?)?;
            match b.attr("top") {
                Some(want) if v["root_causes"][0]["resource"] != want => Err(format!(
                    "expected the best cause {want}, got {}",
                    v["root_causes"][0]
                )),
                _ => Ok(()),
            }
        }
        "detector-params" => {
            let det = b.attr("detector").ok_or("needs detector=NAME")?;
            let params: serde_json::Map<String, Value> =
                serde_json::from_str(&b.body).map_err(|e| format!("not a JSON object: {e}"))?;
            let s = series(ctx);
            let assignments: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let mut args = vec!["detect", &s, "-d", det, "--format", "json"];
            for a in &assignments {
                args.extend(["-p", a]);
            }
            run(ctx, &args).map(|_| ())
        }
        "topology" => {
            let v = json(&b.body)?;
            let first = v["nodes"][0]["id"].as_str().ok_or("no first node id")?;
            let input = probe(ctx, first)?;
            let args = [
                "alerts",
                "correlate",
                "--input",
                &input,
                "--topology",
                &f,
                "--format",
                "json",
            ];
            let v = json(&run(ctx, &args)?)?;
            match v["incidents"][0]["probable_origin"].as_str() {
                Some(o) if o == first => Ok(()),
                other => Err(format!(
                    "the probe alert on {first} should be an incident with origin {first}, got {other:?}"
                )),
            }
        }
        "alerts" => {
            let args = ["alerts", "correlate", "--input", &f, "--format", "json"];
            let v = json(&run(ctx, &args)?)?;
            expect_count(b, "alerts", v["stats"]["alerts_in"].as_u64())
        }
        "alerts-config" => {
            let input = match b.attr("input") {
                Some(i) => ctx.path(Path::new(i)),
                None => probe(ctx, "probe")?,
            };
            let mut args = vec![
                "alerts",
                "correlate",
                "--config",
                &f,
                "--input",
                &input,
                "--format",
                "json",
            ];
            let topo = b.attr("topology").map(|t| ctx.path(Path::new(t)));
            if let Some(t) = &topo {
                args.extend(["--topology", t]);
            }
            let v = json(&run(ctx, &args)?)?;
            for e in b.attr("expect").into_iter().flat_map(|e| e.split(',')) {
                let (k, want) = e
                    .split_once(':')
                    .ok_or_else(|| format!("expect {e:?} is not key:value"))?;
                if k == "origin" {
                    let origins: Vec<&str> = v["incidents"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|i| i["probable_origin"].as_str())
                        .collect();
                    if !origins.contains(&want) {
                        return Err(format!("no incident from {want}: origins {origins:?}"));
                    }
                } else if v["stats"][k].as_u64() != want.parse().ok() {
                    return Err(format!("expected {k} = {want}, got stats {}", v["stats"]));
                }
            }
            Ok(())
        }
        "runbook" => {
            let dir = PathBuf::from(format!("runbook-check-{}", b.line));
            let name = file.file_name().ok_or("no file name")?;
            ctx.write(&dir.join(name), &b.body);
            let d = ctx.path(&dir);
            let v = json(&run(ctx, &["runbooks", "list", "--dir", &d, "--json"])?)?;
            match b.attr("id") {
                Some(want) if v[0]["id"] != want => {
                    Err(format!("expected id {want}, got {}", v[0]["id"]))
                }
                _ => Ok(()),
            }
        }
        "log" => {
            let out = run(ctx, &["logs", "parse", &f])?;
            match b.attr("lines") {
                Some(n) if !out.starts_with(&format!("{n} lines")) => {
                    Err(format!("expected {n} lines, got: {out}"))
                }
                _ => Ok(()),
            }
        }
        "loghub-settings" => {
            let v = json(&b.body)?;
            let systems: Vec<&String> = v
                .as_object()
                .ok_or("not an object")?
                .keys()
                .filter(|k| !k.starts_with('_'))
                .collect();
            let data = PathBuf::from(format!("loghub-check-{}", b.line));
            for s in &systems {
                let sys = data.join(s);
                ctx.write(
                    &sys.join(format!("{s}_2k.log")),
                    "a line the format may not match\nanother line\n",
                );
                ctx.write(
                    &sys.join(format!("{s}_2k.log_structured.csv")),
                    "LineId,EventId,EventTemplate\n1,E1,a line the format may not match\n2,E2,another line\n",
                );
            }
            let d = ctx.path(&data);
            let args = ["eval", "loghub", "--data", &d, "--settings", &f, "--json"];
            let v = json(&run(ctx, &args)?)?;
            for s in systems {
                if v["systems"][s].is_null() {
                    return Err(format!("system {s} was not scored: {v}"));
                }
            }
            Ok(())
        }
        "causal-data" | "causal-graph" => {
            let want = if tag == "causal-data" {
                "data_linear.txt"
            } else {
                "graph.txt"
            };
            if file.file_name().and_then(|n| n.to_str()) != Some(want) {
                return Err(format!("the file must be named {want}"));
            }
            let d = ctx.path(file.parent().ok_or("no folder")?);
            run(ctx, &["eval", "causal", "--data", &d, "--max-lag", "1"]).map(|_| ())
        }
        "causal-knowledge" => {
            let data = ctx.path(Path::new(b.attr("data").ok_or("needs data=DIR")?));
            let args = [
                "eval",
                "causal",
                "--data",
                &data,
                "--knowledge",
                &f,
                "--max-lag",
                "1",
            ];
            run(ctx, &args).map(|_| ())
        }
        "run" => run_commands(ctx, b),
        "service-config" => run(ctx, &["serve", "--config", &f, "--check"]).map(|_| ()),
        "workflow" => run(ctx, &["workflow", "lint", &f]).map(|_| ()),
        "workflow-remediation" => {
            let w = ctx.path(Path::new(
                b.attr("workflows").ok_or("needs workflows=FILE")?,
            ));
            let e = ctx.path(Path::new(b.attr("event").ok_or("needs event=FILE")?));
            let args = [
                "workflow",
                "run",
                &w,
                "--event",
                &e,
                "--remediation",
                &f,
                "--dry-run",
            ];
            json(&run(ctx, &args)?).map(|_| ())
        }
        "workflow-event" => {
            let w = ctx.path(Path::new(
                b.attr("workflows").ok_or("needs workflows=FILE")?,
            ));
            let v = json(&run(
                ctx,
                &["workflow", "run", &w, "--event", &f, "--dry-run"],
            )?)?;
            match b.attr("would-run") {
                Some(step) => {
                    let s = v["steps"]
                        .as_array()
                        .and_then(|a| a.iter().find(|x| x["name"] == step))
                        .ok_or(format!("no step {step} in {v}"))?;
                    if s["status"] != "would_run" {
                        return Err(format!("step {step} is {}, not would_run", s["status"]));
                    }
                    Ok(())
                }
                None => Ok(()),
            }
        }
        _ => unreachable!("tags are checked before"),
    }
}

/// Runs each `aiops ...` command line of a `sh run` block (a trailing `\` continues a line).
fn run_commands(ctx: &Ctx, b: &Block) -> Result<(), String> {
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_aiops"))
        .parent()
        .expect("the binary's folder")
        .to_path_buf();
    let path = std::env::join_paths(std::iter::once(bin_dir).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .map_err(|e| e.to_string())?;
    let mut commands = Vec::new();
    let mut current = String::new();
    for line in b.body.lines() {
        let line = line.trim();
        if let Some(start) = line.strip_suffix('\\') {
            current.push_str(start);
            continue;
        }
        current.push_str(line);
        let cmd = std::mem::take(&mut current);
        if !cmd.is_empty() && !cmd.starts_with('#') {
            commands.push(cmd);
        }
    }
    for cmd in commands {
        if !cmd.starts_with("aiops ") {
            return Err(format!("only aiops commands may be run: {cmd:?}"));
        }
        let o = Command::new("sh")
            .args(["-c", &cmd])
            .current_dir(&ctx.dir)
            .env("PATH", &path)
            .output()
            .expect("run sh");
        if !o.status.success() {
            return Err(format!(
                "`{cmd}` failed: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ));
        }
    }
    Ok(())
}

#[test]
fn every_example_of_the_reference_loads() {
    let page = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/reference.md");
    let text = std::fs::read_to_string(&page).expect("read docs/reference.md");
    let blocks = blocks(&text).unwrap_or_else(|e| panic!("docs/reference.md: {e}"));
    let tmp = tempfile::tempdir().expect("temp dir");
    let ctx = Ctx {
        dir: tmp.path().to_path_buf(),
    };

    let mut failures = Vec::new();
    let mut examples = Vec::new();
    let mut files = BTreeSet::new();
    for b in &blocks {
        match b.tag.as_deref() {
            None if b.lang == "text" => {}
            None => failures.push(format!(
                "{}: a `{}` block needs a format tag (see About the examples), or use `text`",
                b.what(),
                b.lang
            )),
            Some(t) if !TAGS.contains(&t) => {
                failures.push(format!("{}: unknown tag {t:?}", b.what()))
            }
            Some("run") if b.lang != "sh" => {
                failures.push(format!("{}: `run` is for `sh` blocks", b.what()))
            }
            Some(t) => {
                if t != "run" {
                    if !files.insert(b.file()) {
                        failures.push(format!("{}: file {:?} written twice", b.what(), b.file()));
                    }
                    ctx.write(&b.file(), &b.body);
                }
                examples.push((b, t));
            }
        }
    }
    // Files first, then the commands that use them.
    examples.sort_by_key(|(_, t)| *t == "run");
    for (b, t) in &examples {
        if let Err(e) = check(&ctx, b, t) {
            failures.push(format!("{}: {e}", b.what()));
        }
    }
    let used: BTreeSet<&str> = examples.iter().map(|(_, t)| *t).collect();
    for t in TAGS {
        if !used.contains(t) {
            failures.push(format!("no example with tag {t:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} examples fail:\n{}",
        failures.len(),
        examples.len(),
        failures.join("\n")
    );
}
