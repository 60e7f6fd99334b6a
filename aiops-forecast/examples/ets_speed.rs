use aiops_forecast::*;
fn main() {
    let s = m4::load(std::path::Path::new("/work/shared/data/m4")).unwrap();
    let t = std::time::Instant::now();
    let mut k = 0;
    for x in s.iter().take(40) { let f = AutoEts::new(24).unwrap().fit(&x.train[x.train.len()-700..]).unwrap(); k += f.predict(48, &[95.0]).unwrap().mean.len(); }
    println!("autoets {:.2} ms/series {k}", t.elapsed().as_secs_f64() * 1000.0 / 40.0);
    for code in ["ANN", "AAdN", "ANA", "AAdA", "MAdM", "MNM"] {
        let t = std::time::Instant::now();
        for x in s.iter().take(40) { let _ = Ets::new(EtsSpec::parse(code).unwrap(), 24).unwrap().fit(&x.train[x.train.len()-700..]); }
        println!("{code} {:.2} ms/series", t.elapsed().as_secs_f64() * 1000.0 / 40.0);
    }
}
