use aiops_detect::logs::eval::*;
use std::path::Path;
fn main() {
    let a: Vec<String> = std::env::args().collect();
    let dir = Path::new(&a[1]);
    let sys = &a[2];
    let settings = load_settings(&dir.join("settings.json")).unwrap();
    let s = &settings[sys];
    let lines = read_log_lines(&dir.join(sys).join(format!("{sys}_2k.log"))).unwrap();
    let truth = read_structured(&dir.join(sys).join(format!("{sys}_2k.log_structured.csv"))).unwrap();
    let (ids, t) = parse_with_settings(s, &lines).unwrap();
    let f = aiops_detect::ParamGuard::check(&s.params()).unwrap();
    let f = f.format().unwrap();
    println!("id\ttruth\tpred\ttruthtpl\tcontent");
    for i in 0..ids.len() {
        let c = f.content(&lines[i]).unwrap_or("??");
        println!("{}\t{}\t{}\t{}\t{}", i, truth[i].0, t[&ids[i]], truth[i].1, c);
    }
}
