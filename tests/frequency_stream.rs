//! The frequency detector as it runs, on real traffic: `spanguard eval frequency --stream` scores the
//! OnlineBoutique recording once, in time order, with the detector's state carried from window to window, and
//! injects bursts into windows it picks. The recording's traffic mix changes abruptly after about ten minutes
//! (test windows 13–15: single-span frontend traces jump from 7 % to 55 %, the product pages with ads vanish),
//! and comes back in its last window.

mod common;

use common::{json_lines, spanguard, ONLINE_BOUTIQUE};
use serde_json::Value;

fn stream(extra: &[&str]) -> Vec<Value> {
    let mut args = vec![
        "eval",
        "frequency",
        "--normal",
        ONLINE_BOUTIQUE,
        "--order",
        "time",
        "--stream",
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    json_lines(&spanguard(&args))
}

/// Windows flagged after `from` that were normal, in the explained run.
fn flagged_normal_after(r: &Value, from: u64) -> Vec<u64> {
    r["explained"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["window"].as_u64().unwrap() >= from && w["truth"] == "normal")
        .filter(|w| w["verdict"]["anomalous"] == true || w["verdict"]["sustained"] == true)
        .map(|w| w["window"].as_u64().unwrap())
        .collect()
}

#[test]
fn a_regime_change_is_followed_not_flagged_forever() {
    let ours = &stream(&["--inject", "surge:0.3", "--runs", "5", "--explain", "0"])[0];
    eprintln!("default: {ours}");
    let fa = ours["false_alarm_rate"].as_f64().unwrap();
    assert!(fa <= 0.02, "normal windows flagged: {fa}");
    // Every run accepted the new mix (at least once), and nothing after the change stays flagged.
    assert!(ours["rebaselined"].as_u64().unwrap() >= 5, "{ours}");
    assert_eq!(flagged_normal_after(ours, 16), Vec::<u64>::new(), "{ours}");
    let accepted = ours["explained"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["verdict"]["rebaselined"] == true)
        .expect("the change is accepted");
    let at = accepted["window"].as_u64().unwrap();
    assert!(
        (13..=17).contains(&at),
        "accepted within a few windows of the change: {at}"
    );

    // The slowly adapting threshold (the earlier default) never learns the new mix again: it flags forever.
    let before = &stream(&["--inject", "surge:0.3", "--runs", "5", "--method", "threshold"])[0];
    assert!(before["false_alarm_rate"].as_f64().unwrap() > 0.5, "{before}");
}

#[test]
fn a_burst_inside_the_new_regime_is_caught() {
    // Bursts every 4–6 windows, so that many fall into the new mix (after window 15).
    let mut inside = 0;
    let mut caught = 0;
    for seed in ["0", "1", "2", "3"] {
        let r = &stream(&[
            "--inject",
            "surge:0.3",
            "--runs",
            "1",
            "--seed",
            seed,
            "--gap",
            "4-6",
            "--explain",
            "0",
        ])[0];
        let windows = r["explained"].as_array().unwrap();
        let mut i = 0;
        while i < windows.len() {
            let w = &windows[i];
            if w["truth"] == "burst" && w["window"].as_u64().unwrap() >= 17 && windows[i - 1]["truth"] != "burst" {
                inside += 1;
                let flagged = |w: &Value| w["verdict"]["anomalous"] == true || w["verdict"]["sustained"] == true;
                let second = windows.get(i + 1).filter(|n| n["truth"] == "burst");
                if flagged(w) || second.is_some_and(flagged) {
                    caught += 1;
                }
                // The explanation is the injected sequence, observed well above what the new mix expects.
                let top = &w["verdict"]["top"][0];
                if flagged(w) {
                    assert!(
                        top["count"].as_u64().unwrap() as f64 > 3.0 * top["expected"].as_f64().unwrap(),
                        "{top}"
                    );
                }
            }
            i += 1;
        }
    }
    eprintln!("{caught} of {inside} bursts inside the new regime caught");
    assert!(inside >= 8, "enough bursts fell inside the new regime: {inside}");
    assert!(caught as f64 >= 0.9 * inside as f64, "{caught} of {inside}");
}

#[test]
fn a_never_seen_call_path_is_caught_and_named() {
    let r = &stream(&["--inject", "novel:0.1", "--runs", "5", "--explain", "0"])[0];
    eprintln!("{r}");
    assert_eq!(
        r["caught_first"], r["bursts"],
        "every forged path is caught in its first window: {r}"
    );
    assert!(r["false_alarm_rate"].as_f64().unwrap() <= 0.02, "{r}");
    let bursts: Vec<&Value> = r["explained"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["truth"] == "burst")
        .collect();
    assert!(!bursts.is_empty());
    for w in bursts {
        let v = &w["verdict"];
        assert_eq!(v["novel"], true, "{v}");
        let path = &v["novel_paths"][0];
        // Named: the path itself, the nearest known one, and where it leaves it.
        assert_eq!(path["count"], 5, "{path}");
        let divergence = path["divergence"].as_str().unwrap();
        assert!(
            divergence.contains(": adds ") || divergence.contains(": lacks ") || divergence.contains(": has "),
            "{divergence}"
        );
        assert_ne!(path["sequence"], path["nearest"]);
    }
}
