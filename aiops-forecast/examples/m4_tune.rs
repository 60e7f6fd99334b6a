use aiops_forecast::m4::*;
use aiops_forecast::*;
use rayon::prelude::*;

fn score(name: &str, s: &[M4Series], f: impl Fn(&[f64]) -> Vec<f64> + Sync) -> Vec<Vec<f64>> {
    let t = std::time::Instant::now();
    let fc: Vec<Vec<f64>> = s.par_iter().map(|x| f(&x.train)).collect();
    report(name, s, &fc, t.elapsed().as_secs_f64());
    fc
}
fn report(name: &str, s: &[M4Series], fc: &[Vec<f64>], secs: f64) {
    let (mut a, mut b, mut c, mut d) = (0.0, 0.0, 0.0, 0.0);
    for (x, f) in s.iter().zip(fc) {
        let nv = naive2(&x.train, 48, 24);
        a += smape(&x.test, f);
        b += mase(&x.train, &x.test, f, 24);
        c += smape(&x.test, &nv);
        d += mase(&x.train, &x.test, &nv, 24);
    }
    println!("{name:<30} smape {:.3} mase {:.3} owa {:.4}  {:.2}s", a / 200.0, b / 200.0, 0.5 * (a / c + b / d), secs);
}

fn med(v: &mut Vec<f64>) -> f64 { v.sort_by(f64::total_cmp); let n = v.len(); if n % 2 == 1 { v[n/2] } else { 0.5*(v[n/2-1]+v[n/2]) } }
fn mstl(y: &[f64], p: &[usize], log: bool, w: Option<usize>) -> Vec<f64> {
    let mut m = Mstl::new(p).unwrap().log(log);
    if let Some(w) = w { m = m.seasonal_window(w).unwrap(); }
    m.fit(y).unwrap().predict(48, &[]).unwrap().mean
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("detect") { detect_stats(); return; }
    let s = load(std::path::Path::new("/work/shared/data/m4")).unwrap();
    let mut all: Vec<(String, Vec<Vec<f64>>)> = vec![];
    for w in [None, Some(21), Some(51), Some(101)] {
        all.push((format!("mstl168log w{w:?}"), score(&format!("mstl 24,168 log w{w:?}"), &s, |y| mstl(y, &[24, 168], true, w))));
        all.push((format!("mstl168 w{w:?}"), score(&format!("mstl 24,168 w{w:?}"), &s, |y| mstl(y, &[24, 168], false, w))));
    }
    all.push(("snaive".into(), score("snaive", &s, |y| SeasonalNaive::new(24).unwrap().fit(y).unwrap().predict(48, &[]).unwrap().mean)));
    all.push(("snaive168".into(), score("snaive168", &s, |y| SeasonalNaive::new(168).unwrap().fit(y).unwrap().predict(48, &[]).unwrap().mean)));
    all.push(("theta".into(), score("theta", &s, |y| Theta::new(24, ThetaKind::Standard).unwrap().fit(y).unwrap().predict(48, &[]).unwrap().mean)));
    all.push(("ets".into(), score("ets", &s, |y| AutoEts::new(24).unwrap().fit(y).unwrap().predict(48, &[]).unwrap().mean)));
    // combos of subsets up to 4
    let k = all.len();
    let mut res = vec![];
    for mask in 1u32..(1 << k) {
        let c = mask.count_ones();
        if !(2..=4).contains(&c) { continue; }
        let idx: Vec<usize> = (0..k).filter(|i| mask & (1 << i) != 0).collect();
        for use_med in [true, false] {
            let fc: Vec<Vec<f64>> = (0..s.len()).map(|j| (0..48).map(|h| { let mut v: Vec<f64> = idx.iter().map(|&i| all[i].1[j][h]).collect(); if use_med { med(&mut v) } else { v.iter().sum::<f64>() / v.len() as f64 } }).collect()).collect();
            let (mut a, mut b, mut c2, mut d) = (0.0, 0.0, 0.0, 0.0);
            for (x, f) in s.iter().zip(&fc) { let nv = naive2(&x.train, 48, 24); a += smape(&x.test, f); b += mase(&x.train, &x.test, f, 24); c2 += smape(&x.test, &nv); d += mase(&x.train, &x.test, &nv, 24); }
            let owa = 0.5 * (a / c2 + b / d);
            res.push((owa, format!("{} {}", if use_med {"median"} else {"mean"}, idx.iter().map(|&i| all[i].0.clone()).collect::<Vec<_>>().join(" + "))));
        }
    }
    res.sort_by(|a, b| a.0.total_cmp(&b.0));
    for r in res.iter().take(25) { println!("{:.4} {}", r.0, r.1); }
}
#[allow(dead_code)]
fn detect_stats() {
    let s = load(std::path::Path::new("/work/shared/data/m4")).unwrap();
    let mut counts = std::collections::BTreeMap::new();
    for x in &s { *counts.entry(format!("{:?}", aiops_forecast::seasonality::detect_periods(&x.train))).or_insert(0) += 1; }
    println!("{counts:?}");
    let lens: std::collections::BTreeSet<usize> = s.iter().map(|x| x.train.len()).collect();
    println!("{lens:?}");
}
