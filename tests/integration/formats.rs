//! Machine-readable output formats: JSON Lines, GitHub annotations, SARIF.

use crate::support::{remedy, root, run};

const BAD: &str = "tests/corpus/playbooks/err/many-errors.yaml";

#[test]
fn json_is_one_object_per_line_with_positions() {
    let r = run(remedy().args(["validate", "--format", "json", BAD]));
    assert_eq!(r.code, 1);
    let objs: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(objs.len() >= 4, "{}", r.stdout);
    for o in &objs {
        for key in [
            "file",
            "line",
            "column",
            "end_line",
            "end_column",
            "severity",
            "code",
            "message",
            "hint",
        ] {
            assert!(o.get(key).is_some(), "{key} missing in {o}");
        }
        assert!(o["line"].as_u64().unwrap() >= 1);
    }
    let lines: Vec<u64> = objs.iter().map(|o| o["line"].as_u64().unwrap()).collect();
    let mut sorted = lines.clone();
    sorted.sort_unstable();
    assert_eq!(lines, sorted, "diagnostics are sorted by position");
}

#[test]
fn github_output_parses_as_workflow_commands() {
    let r = run(remedy().args(["validate", "--format", "github", BAD]));
    assert_eq!(r.code, 1);
    assert!(!r.stdout.is_empty());
    for line in r.stdout.lines() {
        // ::error file=F,line=L,col=C,endLine=..,endColumn=..,title=T::message
        let rest = line
            .strip_prefix("::error ")
            .or_else(|| line.strip_prefix("::warning "))
            .expect(line);
        let (props, message) = rest.split_once("::").expect(line);
        assert!(!message.is_empty() && !message.contains('\n'));
        let keys: Vec<&str> = props
            .split(',')
            .map(|p| p.split_once('=').expect(p).0)
            .collect();
        assert_eq!(
            keys,
            ["file", "line", "col", "endLine", "endColumn", "title"],
            "{line}"
        );
        for p in props.split(',') {
            let (k, v) = p.split_once('=').unwrap();
            if ["line", "col", "endLine", "endColumn"].contains(&k) {
                assert!(v.parse::<u64>().unwrap() >= 1, "{line}");
            }
        }
    }
}

#[test]
fn sarif_validates_against_the_sarif_2_1_0_schema() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("tests/schemas/sarif-schema-2.1.0.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let r = run(remedy().args([
        "validate",
        "--format",
        "sarif",
        BAD,
        "workflows/unlock-account.yaml",
        "--users",
        "tests/corpus/csv/err/duplicate-key-case.csv",
    ]));
    assert_eq!(r.code, 1);
    let log: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&log)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let results = log["runs"][0]["results"].as_array().unwrap();
    assert!(results.len() >= 5);
    assert!(results.iter().all(|r| {
        r["locations"][0]["physicalLocation"]["region"]["startLine"]
            .as_u64()
            .is_some()
    }));
}
