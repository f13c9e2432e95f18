//! The catalogue of diagnostic codes: the single list that SARIF rules and
//! `docs/diagnostics.md` are generated from. A test checks that every code
//! the source emits is listed here.

/// `(code, what it means)` for every diagnostic remedy can emit.
pub const CODES: &[(&str, &str)] = &[
    ("playbook::unreadable", "The playbook file cannot be read."),
    (
        "playbook::too-large",
        "The playbook file is larger than 1 MiB.",
    ),
    ("playbook::not-utf8", "The playbook is not valid UTF-8."),
    (
        "playbook::empty",
        "The playbook file is empty or holds only comments.",
    ),
    ("playbook::yaml-syntax", "The file is not valid YAML."),
    (
        "playbook::tab-indentation",
        "A tab is used for indentation; YAML allows spaces only.",
    ),
    (
        "playbook::multiple-documents",
        "The file holds more than one YAML document (`---`).",
    ),
    (
        "playbook::duplicate-key",
        "A mapping has the same key twice.",
    ),
    (
        "playbook::too-complex",
        "The document nests too deeply or expands aliases too much.",
    ),
    (
        "playbook::unknown-field",
        "A field that the playbook language does not have.",
    ),
    ("playbook::missing-field", "A required field is missing."),
    (
        "playbook::invalid-type",
        "A value has the wrong type (e.g. a list where text is expected).",
    ),
    (
        "playbook::unknown-api-version",
        "`api_version` names a version this remedy does not understand.",
    ),
    ("playbook::empty-name", "A `name` is empty."),
    (
        "playbook::unknown-provider",
        "`target.provider` is not a known directory service.",
    ),
    (
        "playbook::invalid-tenant",
        "`target.tenant` is neither a domain nor a GUID.",
    ),
    (
        "playbook::missing-target",
        "The playbook names no directory (`target` or `targets`), or `targets` is empty.",
    ),
    (
        "playbook::ambiguous-target",
        "The playbook has both `target` and `targets`.",
    ),
    (
        "playbook::invalid-target-name",
        "A name under `targets` is not letters, digits, `-` and `_`.",
    ),
    (
        "playbook::misplaced-target-setting",
        "A target setting belongs to another provider (e.g. `tenant` on `active_directory`).",
    ),
    (
        "playbook::invalid-url",
        "An `active_directory` target's `url` is not `ldaps://host` or `ldap://host`.",
    ),
    (
        "playbook::invalid-base-dn",
        "An `active_directory` target's `base_dn` is not a distinguished name.",
    ),
    (
        "playbook::invalid-domain",
        "An `active_directory` target's `domain` pin is neither a DNS name nor a SID.",
    ),
    (
        "playbook::unknown-find-by",
        "`find_by` is not `user_principal_name`, `sam_account_name` or `object_guid`.",
    ),
    (
        "playbook::missing-step-target",
        "A step of a playbook with several targets does not say which one it acts on.",
    ),
    (
        "playbook::unknown-target",
        "A step's `target` names no entry of `targets`.",
    ),
    (
        "playbook::ignored-parameter",
        "A step parameter has no effect on its target's directory.",
    ),
    (
        "playbook::incompatible-find-by",
        "A hybrid playbook's Active Directory target finds accounts by a key the Graph target cannot use.",
    ),
    (
        "playbook::unused-target",
        "No step acts on a target named under `targets`.",
    ),
    (
        "playbook::duplicate-provider",
        "Two targets of a playbook name the same provider.",
    ),
    (
        "playbook::unsupported-step",
        "The step kind cannot act on its target's directory (e.g. `revoke_sessions` on Active Directory).",
    ),
    ("playbook::empty-key", "`input.key` is empty."),
    (
        "playbook::empty-column",
        "An entry of `input.columns` is empty.",
    ),
    (
        "playbook::duplicate-column",
        "A column is declared twice in `input.columns`.",
    ),
    (
        "playbook::invalid-guard",
        "A guard has an impossible value.",
    ),
    (
        "playbook::invalid-max-failures",
        "`max_failures` is neither a count nor a percentage.",
    ),
    (
        "playbook::invalid-protected-user",
        "A protected user is neither a UPN nor an object id.",
    ),
    (
        "playbook::invalid-setting",
        "A setting is out of its allowed range.",
    ),
    ("playbook::no-steps", "`steps` is empty."),
    (
        "playbook::invalid-step-id",
        "A step id has characters other than letters, digits, `-` and `_`.",
    ),
    ("playbook::duplicate-step-id", "Two steps have the same id."),
    (
        "playbook::missing-step-kind",
        "A step has neither `action` nor `ensure`.",
    ),
    (
        "playbook::ambiguous-step-kind",
        "A step has both `action` and `ensure`.",
    ),
    (
        "playbook::unknown-action",
        "`action` names an operation remedy does not have.",
    ),
    (
        "playbook::unknown-ensure",
        "`ensure` names a state remedy does not know.",
    ),
    (
        "playbook::contradictory-steps",
        "Two `ensure` steps demand opposite states.",
    ),
    (
        "playbook::unexpected-with",
        "`with:` parameters on a step that takes none.",
    ),
    (
        "playbook::literal-password",
        "A literal password in a playbook; use `generate` or a template.",
    ),
    (
        "playbook::constant-password",
        "A password template that is not exactly `{{ row.<column> }}` (optionally `| trim`): a literal, text outside `{{ }}`, an operator, a function or another filter could give every user the same password.",
    ),
    (
        "playbook::no-forced-change",
        "A reset that does not force the user to change the password.",
    ),
    (
        "playbook::invalid-when",
        "A `when` condition does not compile.",
    ),
    (
        "playbook::invalid-template",
        "A `{{ }}` template does not compile.",
    ),
    (
        "playbook::template-statement",
        "A template holds a statement (`{% %}`: a macro, `set`, a loop); templates only insert values.",
    ),
    (
        "playbook::over-budget",
        "A `when` condition or template exceeds the evaluation budget a run enforces (fuel, recursion depth, 64 KiB of output), evaluated against a sample row.",
    ),
    (
        "playbook::undeclared-column",
        "An expression reads `row.<column>` for a column not in `input.columns`.",
    ),
    (
        "playbook::unknown-variable",
        "An expression uses a variable other than `row`.",
    ),
    (
        "playbook::dynamic-column",
        "An expression reads `row[...]`, which cannot be checked before a run.",
    ),
    ("csv::unreadable", "The CSV file cannot be read."),
    ("csv::empty", "The CSV file is empty (no header row)."),
    (
        "csv::syntax",
        "The CSV is malformed (e.g. an unterminated quote).",
    ),
    ("csv::invalid-utf8", "A field is not valid UTF-8."),
    (
        "csv::record-too-large",
        "One record is larger than 16 MiB (a wrong file or a quote left open); reading stops there.",
    ),
    (
        "csv::missing-key-column",
        "The header lacks the playbook's `input.key` column.",
    ),
    (
        "csv::missing-column",
        "The header lacks a column declared in `input.columns`.",
    ),
    ("csv::duplicate-header", "The header names a column twice."),
    (
        "csv::empty-header",
        "A header cell is empty but named columns follow it.",
    ),
    (
        "csv::field-count",
        "A row has a different number of fields than the header.",
    ),
    ("csv::empty-key", "A row's key cell is empty."),
    ("csv::duplicate-key", "Two rows name the same user."),
    (
        "csv::invalid-key",
        "A key is neither a user principal name nor an object id (GUID).",
    ),
    (
        "csv::example-row-skipped",
        "The example row of an Entra bulk template was skipped.",
    ),
    (
        "csv::too-many-users",
        "The CSV has more users than the playbook's `guards.max_users`.",
    ),
    ("csv::no-rows", "The CSV has a header but no users."),
    (
        "csv::too-many-problems",
        "More problems were found than are shown.",
    ),
    (
        "emulator::invalid-value",
        "A cell of the emulator's seed CSV has a value the emulator cannot use.",
    ),
    ("cli::no-files", "No playbook files were given."),
];

/// What `code` means, if it is catalogued.
pub fn describe(code: &str) -> Option<&'static str> {
    CODES.iter().find(|(c, _)| *c == code).map(|(_, d)| *d)
}

/// `docs/diagnostics.md`, generated from [`CODES`].
pub fn markdown() -> String {
    let mut out = String::from(
        "# Diagnostic codes\n\n\
         Generated from `src/diag/codes.rs` (a test fails when this file drifts; \
         regenerate with `REMEDY_BLESS=1 cargo test --test integration docs`).\n\
         Every problem `remedy validate` reports carries one of these codes; CI \
         tools may match on them.\n\n\
         | code | meaning |\n|---|---|\n",
    );
    for (code, what) in CODES {
        out.push_str(&format!("| `{code}` | {what} |\n"));
    }
    out
}
