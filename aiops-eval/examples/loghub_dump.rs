//! Prints, for one loghub system, every line's ground-truth event and template beside the
//! template aiops mines for it (tab-separated), to study parsing errors.
//!
//! `cargo run --release -p aiops-eval --example loghub_dump -- ../shared/data/loghub HDFS`

use std::path::Path;
use std::process::ExitCode;

use aiops_eval::EvalError;
use aiops_eval::loghub::{load_settings, parse_with_settings, read_structured};
use aiops_logs::read_log_lines;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: loghub_dump <loghub dir> <System>");
        return ExitCode::FAILURE;
    }
    match run(Path::new(&args[1]), &args[2]) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(dir: &Path, sys: &str) -> Result<(), EvalError> {
    let settings = load_settings(&dir.join("settings.json"))?;
    let Some(s) = settings.get(sys) else {
        return Err(EvalError::Data {
            path: dir.display().to_string(),
            reason: format!("no settings for {sys}"),
        });
    };
    let folder = dir.join(sys);
    let lines = read_log_lines(&folder.join(format!("{sys}_2k.log")))?;
    let truth = read_structured(&folder.join(format!("{sys}_2k.log_structured.csv")))?;
    let (ids, templates) = parse_with_settings(s, &lines)?;
    let drain = s.params().check()?;
    println!("line\ttruth_id\tpredicted\ttruth_template\tcontent");
    for (i, line) in lines.iter().enumerate() {
        let (content, _) = drain.content(line);
        let (tid, ttpl) = truth
            .get(i)
            .map_or(("", ""), |(a, b)| (a.as_str(), b.as_str()));
        println!("{i}\t{tid}\t{}\t{ttpl}\t{content}", templates[&ids[i]]);
    }
    Ok(())
}
