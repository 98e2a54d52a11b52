//! `heapcost gate`: verdicts and exit codes on the corpus and the mini-envoy
//! fixtures, budgets files and their errors, several runs per side. The
//! goldens of its outputs are in `gate_golden.rs`.

use tempfile::TempDir;

use super::common::gate::{BUDGETS, expect, gate, mini, mini_gate};
use super::common::run::{VIEW_BOUND, heapcost};
use super::common::{MINI_SYMBOLS, corpus, json, root};

/// A corpus dump (unsymbolized: its envoy-static is not available).
fn envoy(n: u32) -> String {
    corpus(&format!(
        "envoy-1.34-ext-proc-full-duplex/envoy.prof.{n:04}.heap"
    ))
    .to_string_lossy()
    .into_owned()
}

/// The one error line of an exit-2 run.
fn error_line(stderr: &str) -> &str {
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("heapcost: error: "))
        .collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    errors[0]
}

/// The table row of a limit in the text output.
fn row<'a>(stdout: &'a str, label: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no row {label:?} in\n{stdout}"))
}

// ---------------------------------------------------------------------------
// verdicts
// ---------------------------------------------------------------------------

#[test]
fn gate_same_dump_on_both_sides_passes() {
    let e = envoy(1);
    let (out, _) = gate(&["--base", &e, &e, "--max-growth", "0%", "-q"], 0);
    assert!(row(&out, "total growth <= 0%").ends_with("pass"), "{out}");
    assert!(out.contains("PASS: the limit holds"), "{out}");
    let mut args = vec![
        "--base",
        BUDGETS_BASE,
        BUDGETS_BASE,
        "--budgets",
        BUDGETS,
        "-q",
    ];
    args.extend(MINI_SYMBOLS);
    let (out, _) = gate(&args, 0);
    assert!(out.contains("PASS: all 8 limits hold"), "{out}");
    assert!(!out.contains("stacks that grew most"), "{out}");
}

const BUDGETS_BASE: &str = "fixtures/mini-envoy/mini-envoy.0001.heap";

#[test]
fn gate_corpus_0001_to_0004_fails_on_total_growth() {
    let (out, err) = gate(&["--base", &envoy(1), &envoy(4), "--max-growth", "10%"], 1);
    let r = row(&out, "total growth <= 10%");
    assert!(r.contains("100.08MB") && r.contains("400.59MB"), "{r}");
    assert!(r.contains("+300.51MB") && r.ends_with("FAIL"), "{r}");
    assert!(out.contains("FAIL: 1 of 1 limit broken"), "{out}");
    // Unsymbolized: the growth can only be named by address, and heapcost says why.
    assert!(err.contains("no frame has a name"), "{err}");
    // An absolute limit above the growth holds.
    let (out, _) = gate(
        &[
            "--base",
            &envoy(1),
            &envoy(4),
            "--max-growth",
            "301MiB",
            "-q",
        ],
        0,
    );
    assert!(
        row(&out, "total growth <= 301MiB").ends_with("pass"),
        "{out}"
    );
    // Owner budgets cannot be judged without names: bad input, not a pass.
    let (_, err) = gate(
        &["--base", &envoy(1), &envoy(4), "--budget", "ext_proc=64MiB"],
        2,
    );
    let line = error_line(&err);
    assert!(
        line.contains("envoy.prof.0001.heap: no frame has a name"),
        "{line}"
    );
}

/// An owner's value in one dump, as `heapcost attribute` gives it.
fn attributed(dump: &str, owner: &str) -> i64 {
    let output = heapcost()
        .timeout(VIEW_BOUND)
        .args(["attribute", "--format", "json", "-q", dump])
        .args(MINI_SYMBOLS)
        .output()
        .unwrap();
    let (out, _) = expect(&output, &["attribute"], 0);
    json(&out)["owners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == owner)
        .map_or(0, |o| o["value"].as_i64().unwrap())
}

#[test]
fn gate_mini_envoy_0001_to_0004_names_ext_proc_growth() {
    let (out, _) = mini_gate(
        &[1],
        &[4],
        &["--max-growth", "10%", "--format", "json", "-q"],
        1,
    );
    let v = json(&out);
    assert_eq!(v["verdict"], "fail");
    assert_eq!(v["checks"][0]["scope"], "total");
    assert_eq!(v["checks"][0]["status"], "fail");
    let owners = v["diff"]["owners"].as_array().unwrap();
    let ext_proc = owners.iter().find(|o| o["name"] == "ext_proc").unwrap();
    assert_eq!(
        ext_proc["base"].as_i64(),
        Some(attributed(&mini(1), "ext_proc"))
    );
    assert_eq!(
        ext_proc["new"].as_i64(),
        Some(attributed(&mini(4), "ext_proc"))
    );
    assert!(
        ext_proc["delta"].as_i64().unwrap() > 3_000_000,
        "{ext_proc}"
    );
    let stacks = v["growing_stacks"].as_array().unwrap();
    assert!(
        stacks.iter().any(|s| s["owner"] == "ext_proc"
            && s["path"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f == "ExternalProcessorStreamImpl::send")),
        "{stacks:?}"
    );
    // In words: the broken total names the owners that grew most, ext_proc first.
    let (text, _) = mini_gate(&[1], &[4], &["--max-growth", "10%", "-q"], 1);
    assert!(
        text.contains("over its growth limit of 10%; grew most: ext_proc +3.36MB, network +3.17MB"),
        "{text}"
    );
    assert!(
        text.contains("ext_proc: Filter::decodeData > ExternalProcessorStreamImpl::send"),
        "{text}"
    );
}

#[test]
fn gate_a_budget_that_holds_passes() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("budgets.toml");
    std::fs::write(
        &file,
        "[total]\nmax_growth = \"8MiB\"\n\n[owners]\next_proc = \"64MiB\"\nwasm = \"+10%\"\n",
    )
    .unwrap();
    let (out, _) = mini_gate(&[1], &[4], &["--budgets", file.to_str().unwrap(), "-q"], 0);
    assert!(
        row(&out, "owner ext_proc <= 64MiB").ends_with("pass"),
        "{out}"
    );
    assert!(
        row(&out, "owner wasm growth <= 10%").ends_with("pass"),
        "{out}"
    );
    assert!(out.contains("PASS: all 3 limits hold"), "{out}");
    // The same limits inline.
    let (out, _) = mini_gate(
        &[1],
        &[4],
        &[
            "--max-growth",
            "8MiB",
            "--budget",
            "ext_proc=64MiB",
            "--budget",
            "wasm=+10%",
            "-q",
        ],
        0,
    );
    assert!(out.contains("PASS: all 3 limits hold"), "{out}");
    // A flag replaces the file's limit of the same owner: now ext_proc breaks it.
    let (out, _) = mini_gate(
        &[1],
        &[4],
        &[
            "--budgets",
            file.to_str().unwrap(),
            "--budget",
            "ext_proc=1MiB",
            "-q",
        ],
        1,
    );
    assert!(
        row(&out, "owner ext_proc <= 1MiB").ends_with("FAIL"),
        "{out}"
    );
    assert!(!out.contains("64MiB"), "{out}");
}

#[test]
fn gate_malformed_budgets_files_exit_2_with_the_line() {
    let dir = TempDir::new().unwrap();
    for (i, (text, line, why)) in [
        (
            "[owners]\next_proc = \"64MiB\"\nwasm = \"+10 %%\"\n",
            3,
            "owners.wasm",
        ),
        (
            "sample_type = \"inuse_space\"\n\n[total]\nmax_growth = \"ten percent\"\n",
            4,
            "not an amount",
        ),
        (
            "[owners]\next_proc = \"64MiB\"\n[owners]\n",
            3,
            "duplicate key",
        ),
        (
            "noise_floor = \"1MiB\"\n\n[owner]\next_proc = \"64MiB\"\n",
            3,
            "unknown field `owner`",
        ),
        ("[owners\next_proc = 1\n", 1, ""),
        ("[total]\nmax_growth = [\"10%\", 1.5]\n", 2, "found float"),
        ("[total]\nmax = \"+1MiB\"\n", 2, "total.max"),
        ("[kinds]\nbuffer = \"-5%\"\n", 2, "cannot be negative"),
        (
            "# budgets\n\n[owners]\next_porc = \"64MiB\"\n",
            4,
            "did you mean \"ext_proc\"?",
        ),
        (
            "[kinds]\n\nbufer = \"+1%\"\n",
            3,
            "did you mean \"buffer\"?",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let file = dir.path().join(format!("b{i}.toml"));
        std::fs::write(&file, text).unwrap();
        let shown = file.to_str().unwrap();
        let (out, err) = mini_gate(&[1], &[4], &["--budgets", shown, "-q"], 2);
        assert!(out.is_empty(), "{out}");
        let l = error_line(&err);
        assert!(
            l.starts_with(&format!("heapcost: error: {shown}:{line}: ")),
            "{text:?}: {l}"
        );
        assert!(l.contains(why), "{text:?}: {l}");
    }
    // A file that cannot be read, and a byte unit on an object count.
    let (_, err) = mini_gate(&[1], &[4], &["--budgets", "no/such/budgets.toml"], 2);
    assert!(
        error_line(&err).contains("no/such/budgets.toml: cannot read"),
        "{err}"
    );
    let file = dir.path().join("objects.toml");
    std::fs::write(
        &file,
        "sample_type = \"inuse_objects\"\n[owners]\next_proc = \"64MiB\"\n",
    )
    .unwrap();
    let (_, err) = mini_gate(&[1], &[4], &["--budgets", file.to_str().unwrap()], 2);
    let l = error_line(&err);
    assert!(
        l.contains("objects.toml:3: \"64MiB\" has a byte unit"),
        "{l}"
    );
}

#[test]
fn gate_unknown_names_and_bad_flags_exit_2() {
    let (_, err) = mini_gate(&[1], &[4], &["--budget", "ext_porc=64MiB"], 2);
    assert_eq!(
        error_line(&err),
        "heapcost: error: --budget ext_porc=64MiB: unknown owner \"ext_porc\": no rule gives it and no input has it; did you mean \"ext_proc\"? (`heapcost rules` lists the rules)"
    );
    // Names that only a capture rule gives: accepted when the rule's examples
    // give them (cors) or an input has them; otherwise the list of names.
    mini_gate(&[1], &[4], &["--budget", "cors=1MiB", "-q"], 0);
    let (_, err) = mini_gate(&[1], &[4], &["--budget", "qqqq=1MiB"], 2);
    assert!(
        error_line(&err).contains("the owners the rules define are: access_log,"),
        "{err}"
    );
    let (_, err) = mini_gate(&[1], &[4], &["--kind-budget", "ext_proc=1MiB"], 2);
    assert!(
        error_line(&err).contains("unknown kind \"ext_proc\""),
        "{err}"
    );
    // No limit at all; malformed limits (clap's usage errors are exit 2 too).
    let (_, err) = mini_gate(&[1], &[4], &[], 2);
    assert!(error_line(&err).contains("no limit to check"), "{err}");
    for bad in [
        "--max-growth=ten",
        "--budget=ext_proc",
        "--budget=ext_proc=64MiBs",
        "--noise-floor=-1MiB",
    ] {
        let (_, err) = mini_gate(&[1], &[4], &[bad], 2);
        let value = bad.split_once('=').unwrap().1;
        assert!(err.contains(&format!("invalid value '{value}'")), "{err}");
    }
    // --base is required.
    let (_, err) = gate(&[&mini(4), "--max-growth", "1%"], 2);
    assert!(err.contains("--base"), "{err}");
}

#[test]
fn gate_base_binary_names_the_base_runs() {
    // The split-DWARF build is another binary; its dump 0001 holds what the
    // main build's dump 0001 holds (same ground truth), so nothing changes.
    let args = [
        "--base",
        "fixtures/mini-envoy/split/mini-envoy.0001.heap",
        "--base-binary",
        "fixtures/mini-envoy/split/mini-envoy",
        &mini(1),
        "--max-growth",
        "0%",
        "--budget",
        "ext_proc=+0%",
        "--budget",
        "wasm=+0%",
        "--budget",
        "lua=+0%",
        "-q",
    ];
    let mut with_symbols: Vec<&str> = args.to_vec();
    with_symbols.extend(MINI_SYMBOLS);
    let (out, _) = gate(&with_symbols, 0);
    assert!(out.contains("PASS: all 4 limits hold"), "{out}");
    assert!(
        row(&out, "owner wasm growth <= 0%").contains("217.84kB"),
        "{out}"
    );
    // The base runs are looked up with --base-binary, the new ones with -b.
    let wrong = [
        "--base",
        "fixtures/mini-envoy/split/mini-envoy.0001.heap",
        "--base-binary",
        "no/such/envoy-static",
        &mini(1),
        "-b",
        "fixtures/mini-envoy/mini-envoy",
    ];
    let mut total_only = wrong.to_vec();
    total_only.extend(["--max-growth", "0%"]);
    let (_, err) = gate(&total_only, 0);
    assert!(
        err.contains("mini-envoy: no file found (looked at no/such/envoy-static"),
        "{err}"
    );
    let mut owners = wrong.to_vec();
    owners.extend(["--budget", "ext_proc=1MiB"]);
    let (_, err) = gate(&owners, 2);
    assert!(
        error_line(&err).contains("split/mini-envoy.0001.heap: no frame has a name"),
        "{err}"
    );
}

#[test]
fn gate_sides_of_different_sample_types_exit_2() {
    let sampled = corpus("pprof-testdata/cppbench.heap");
    let (_, err) = gate(
        &[
            "--base",
            sampled.to_str().unwrap(),
            &envoy(1),
            "--max-growth",
            "10%",
        ],
        2,
    );
    let line = error_line(&err);
    assert!(
        line.contains("cppbench.heap: sample type space (bytes) differs from inuse_space (bytes)"),
        "{line}"
    );
}

// ---------------------------------------------------------------------------
// several runs per side
// ---------------------------------------------------------------------------

#[test]
fn gate_one_outlier_run_does_not_fail_a_pull_request() {
    // Totals: 0001 100.08MB, 0007 92.2MB, 0012 95.19MB, 0004 400.59MB (the outlier).
    let base = [
        "--base",
        &envoy(1),
        "--base",
        &envoy(7),
        "--base",
        &envoy(12),
    ]
    .map(String::from);
    let run = |new: &[u32], code: i32| {
        let mut args: Vec<String> = base.to_vec();
        args.extend(new.iter().map(|n| envoy(*n)));
        args.extend(["--max-growth", "10%", "-q"].map(String::from));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        gate(&args, code).0
    };
    // Three new runs, one of them 4x the others: the median is a normal run.
    let out = run(&[1, 12, 4], 0);
    let r = row(&out, "total growth <= 10%");
    assert!(
        r.contains("95.19MB") && r.contains("100.08MB") && r.ends_with("pass"),
        "{r}"
    );
    assert!(out.contains("New:  median of 3 runs"), "{out}");
    assert!(
        out.contains("400.59MB  "),
        "each run's total is listed: {out}"
    );
    // The outlier alone fails; with two runs the median is the mean, which it still drags up.
    run(&[4], 1);
    run(&[1, 4], 1);
    // An outlier among the base runs (0013 holds 0.9MB) moves nothing either.
    let mut args: Vec<String> = [
        "--base",
        &envoy(1),
        "--base",
        &envoy(12),
        "--base",
        &envoy(13),
    ]
    .map(String::from)
    .to_vec();
    args.extend([envoy(1), "--max-growth".into(), "10%".into(), "-q".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    gate(&args, 0);
}

#[test]
fn gate_reads_a_side_from_stdin() {
    let file = std::fs::read(root().join(mini(4))).unwrap();
    let output = heapcost()
        .timeout(VIEW_BOUND)
        .args(["gate", "--base", &mini(1), "-", "--max-growth", "10%", "-q"])
        .args(MINI_SYMBOLS)
        .write_stdin(file)
        .output()
        .unwrap();
    let (out, _) = expect(&output, &["stdin"], 1);
    assert!(out.contains("New:  -\n"), "{out}");
    assert!(out.contains("grew most: ext_proc"), "{out}");
}
