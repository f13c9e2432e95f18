//! `when` conditions and `{{ }}` templates: compiled with minijinja at
//! validate time, the CSV columns they read, and their evaluation against
//! one row at run time.
//!
//! The only variable a playbook expression may use is `row`, the current CSV
//! row; `row.<column>` must name a declared column. Undefined values are
//! errors at run time (strict mode), never a silent empty string.
//!
//! Budgets: every evaluation has [`FUEL`] (minijinja's instruction and
//! allocation budget, so `'a' * 100000000` fails before the string is
//! built), a recursion limit of [`RECURSION_LIMIT`], and a rendered
//! template at most [`MAX_OUTPUT`] bytes. Templates take no statements
//! (`{% %}`: no macros, `set` or loops). `remedy validate` evaluates each
//! expression once against a sample row and reports what would exceed a
//! budget at run time.

use std::collections::BTreeSet;
use std::ops::Range;
use std::sync::{Arc, LazyLock};

use minijinja::{Environment, Expression, UndefinedBehavior, Value};

/// The fuel of one evaluation: about this many instructions, or 64 times
/// as many bytes of data created (minijinja's `fuel`). A condition or a
/// password template needs well under a hundred.
pub const FUEL: u64 = 10_000;

/// How deep an evaluation may recurse (minijinja's default is 500).
pub const RECURSION_LIMIT: usize = 64;

/// The longest a rendered template may be, in bytes.
pub const MAX_OUTPUT: usize = 64 * 1024;

/// A problem with an expression or template, with the byte range within
/// the expression text when there is one.
#[derive(Debug)]
pub struct ExprError {
    pub message: String,
    pub range: Option<Range<usize>>,
    pub kind: ExprErrorKind,
}

/// What kind of problem an [`ExprError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExprErrorKind {
    /// It does not compile.
    Syntax,
    /// A template holds a statement (`{% %}`).
    Statement,
    /// Evaluating it exceeds a budget (fuel, recursion, output size).
    OverBudget,
}

/// What an expression reads.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct References {
    /// Columns read as `row.<name>`.
    pub columns: BTreeSet<String>,
    /// Variables other than `row` (always an error: nothing else exists).
    pub unknown_variables: BTreeSet<String>,
    /// `row` used other than by attribute (e.g. `row["a b"]`); its columns
    /// cannot be checked before a run.
    pub dynamic_row: bool,
}

/// The environment every playbook expression is compiled and evaluated in.
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(RECURSION_LIMIT);
    env
}

/// The environment of the whole process, in which a checked playbook's
/// conditions are compiled once and its templates rendered.
pub fn shared() -> &'static Environment<'static> {
    static ENV: LazyLock<Environment<'static>> = LazyLock::new(environment);
    &ENV
}

/// A `when` condition compiled when the playbook was checked; every user
/// of a run evaluates the same compiled expression.
#[derive(Clone)]
pub struct Condition {
    text: String,
    expr: Arc<Expression<'static, 'static>>,
}

impl Condition {
    /// The condition as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Evaluates it for one row (Jinja truthiness).
    ///
    /// # Errors
    ///
    /// The evaluation error in words (an undefined column, a bad operation).
    pub fn eval(&self, row: &Value) -> Result<bool, String> {
        eval_condition(&self.expr, row)
    }
}

impl std::fmt::Debug for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Condition").field(&self.text).finish()
    }
}

/// Compiles a `when` condition in the [`shared`] environment, for the
/// checked playbook, with what it reads.
pub fn condition(text: &str) -> Result<(References, Condition), ExprError> {
    refuse_template(text)?;
    let expr = shared()
        .compile_expression_owned(text.to_owned())
        .map_err(|e| to_expr_error(text, &e))?;
    let refs = references(expr.undeclared_variables(true));
    trial_condition(&expr, &refs)?;
    Ok((
        refs,
        Condition {
            text: text.to_owned(),
            expr: Arc::new(expr),
        },
    ))
}

/// A condition is an expression: `{{ }}` or `{% %}` in it is a mistake.
fn refuse_template(text: &str) -> Result<(), ExprError> {
    if text.contains("{{") || text.contains("{%") {
        return Err(ExprError {
            message: "a `when` condition is an expression, not a template".into(),
            range: text
                .find("{{")
                .or_else(|| text.find("{%"))
                .map(|i| i..i + 2),
            kind: ExprErrorKind::Syntax,
        });
    }
    Ok(())
}

/// Compiles a `when` condition and lists what it reads.
pub fn check_condition(env: &Environment<'_>, text: &str) -> Result<References, ExprError> {
    refuse_template(text)?;
    let expr = env
        .compile_expression(text)
        .map_err(|e| to_expr_error(text, &e))?;
    let refs = references(expr.undeclared_variables(true));
    trial_condition(&expr, &refs)?;
    Ok(refs)
}

/// Compiles a `{{ }}` template (statements refused) and lists what it
/// reads.
pub fn check_template(env: &Environment<'_>, text: &str) -> Result<References, ExprError> {
    refuse_statement(text)?;
    let tmpl = env
        .template_from_str(text)
        .map_err(|e| to_expr_error(text, &e))?;
    let refs = references(tmpl.undeclared_variables(true));
    let sample = sample_row(&refs);
    match tmpl.render(minijinja::context! { row => sample }) {
        Ok(out) if out.len() > MAX_OUTPUT => Err(over_budget(&output_too_long(out.len()))),
        Err(e) if is_over_budget(&e) => Err(over_budget(&describe(&e))),
        Ok(_) | Err(_) => Ok(refs),
    }
}

/// A template inserts values; a statement (`{% macro %}`, `{% set %}`,
/// `{% for %}`, ...) is refused, wherever `{%` appears.
fn refuse_statement(text: &str) -> Result<(), ExprError> {
    match text.find("{%") {
        Some(i) => Err(ExprError {
            message: "a template takes no statements (`{% ... %}`: macros, `set`, loops); it only inserts values with `{{ }}`".into(),
            range: Some(i..i + 2),
            kind: ExprErrorKind::Statement,
        }),
        None => Ok(()),
    }
}

/// Evaluates a compiled condition once against a sample row (every column
/// it reads holds `x`): what exceeds a budget here would at run time.
/// Other evaluation errors depend on the row and are left to the run.
fn trial_condition(expr: &Expression<'_, '_>, refs: &References) -> Result<(), ExprError> {
    match expr.eval(minijinja::context! { row => sample_row(refs) }) {
        Err(e) if is_over_budget(&e) => Err(over_budget(&describe(&e))),
        Ok(_) | Err(_) => Ok(()),
    }
}

fn sample_row(refs: &References) -> Value {
    let columns: Vec<String> = refs.columns.iter().cloned().collect();
    let cells = vec!["x".to_owned(); columns.len()];
    row_value(&columns, &cells)
}

fn over_budget(message: &str) -> ExprError {
    ExprError {
        message: message.to_owned(),
        range: None,
        kind: ExprErrorKind::OverBudget,
    }
}

/// Whether minijinja stopped an evaluation for exceeding a budget.
fn is_over_budget(e: &minijinja::Error) -> bool {
    e.kind() == minijinja::ErrorKind::OutOfFuel
        || e.detail().is_some_and(|d| d.contains("recursion limit"))
        || e.to_string().contains("recursion limit")
        || e.detail().is_some_and(|d| d.contains("too large"))
}

/// An evaluation error in words; a budget is named as such.
fn describe(e: &minijinja::Error) -> String {
    if e.kind() == minijinja::ErrorKind::OutOfFuel {
        format!("it exceeds the evaluation budget ({FUEL} fuel: too much work or data)")
    } else if is_over_budget(e) {
        format!("it exceeds the evaluation budget ({e})")
    } else {
        e.to_string()
    }
}

fn output_too_long(len: usize) -> String {
    format!("it renders {len} bytes, more than the {MAX_OUTPUT} a template may")
}

/// The `row` variable of a run: each declared column's cell, by name.
pub fn row_value<'a>(columns: &[String], cells: impl IntoIterator<Item = &'a String>) -> Value {
    let map: std::collections::BTreeMap<String, String> = columns
        .iter()
        .cloned()
        .zip(cells.into_iter().cloned())
        .collect();
    Value::from(map)
}

/// Evaluates a compiled `when` condition for one row (Jinja truthiness).
///
/// # Errors
///
/// The evaluation error in words (an undefined column, a bad operation).
pub fn eval_condition(expr: &Expression<'_, '_>, row: &Value) -> Result<bool, String> {
    expr.eval(minijinja::context! { row => row.clone() })
        .map(|v| v.is_true())
        .map_err(|e| describe(&e))
}

/// Renders a `{{ }}` template for one row, within the environment's
/// budgets: no statements, and at most [`MAX_OUTPUT`] bytes.
///
/// # Errors
///
/// The syntax or evaluation error, or the budget exceeded, in words.
pub fn render(env: &Environment<'_>, template: &str, row: &Value) -> Result<String, String> {
    refuse_statement(template).map_err(|e| e.message)?;
    let out = env
        .render_str(template, minijinja::context! { row => row.clone() })
        .map_err(|e| describe(&e))?;
    if out.len() > MAX_OUTPUT {
        return Err(output_too_long(out.len()));
    }
    Ok(out)
}

/// minijinja's error, with its range clamped to `text`: for an unclosed
/// string it reaches one byte past the end, which would put the caret on
/// whatever follows the expression in the file.
fn to_expr_error(text: &str, e: &minijinja::Error) -> ExprError {
    ExprError {
        message: e
            .detail()
            .map_or_else(|| e.kind().to_string(), str::to_owned),
        range: e
            .range()
            .map(|r| r.start.min(text.len())..r.end.min(text.len())),
        kind: ExprErrorKind::Syntax,
    }
}

fn references(vars: std::collections::HashSet<String>) -> References {
    let mut refs = References::default();
    for var in vars {
        match var.split_once('.') {
            Some(("row", rest)) => {
                let column = rest.split('.').next().unwrap_or(rest);
                refs.columns.insert(column.to_owned());
            }
            None if var == "row" => refs.dynamic_row = true,
            _ => {
                let root = var.split('.').next().unwrap_or(&var);
                refs.unknown_variables.insert(root.to_owned());
            }
        }
    }
    refs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(r: &References) -> Vec<&str> {
        r.columns.iter().map(String::as_str).collect()
    }

    #[test]
    fn lists_row_columns() {
        let env = environment();
        let r =
            check_condition(&env, "row.compromised == 'yes' and row.dept.lower() == 'x'").unwrap();
        assert_eq!(cols(&r), ["compromised", "dept"]);
        assert!(r.unknown_variables.is_empty());
        let t = check_template(&env, "{{ row.temp_password }}!").unwrap();
        assert_eq!(cols(&t), ["temp_password"]);
    }

    #[test]
    fn flags_other_variables_and_dynamic_access() {
        let env = environment();
        let r = check_condition(&env, "user.enabled or row['display name']").unwrap();
        assert!(r.unknown_variables.contains("user"));
        assert!(r.dynamic_row);
    }

    #[test]
    fn syntax_errors_carry_a_range() {
        let env = environment();
        let e = check_condition(&env, "row.a == ").unwrap_err();
        assert!(
            e.message.contains("unexpected end of input"),
            "{}",
            e.message
        );
        assert!(e.range.is_some());
        let e = check_template(&env, "{{ row.a }").unwrap_err();
        assert_eq!(e.range, Some(9..10));
        // Found by proptest: an unclosed string's range ended past the text.
        let e = check_condition(&env, "in\"").unwrap_err();
        assert_eq!(e.range, Some(3..3));
        assert!(check_condition(&env, "{{ row.a }}").is_err());
    }

    /// Text made of the pieces expressions are built from, so that most
    /// cases get past the tokenizer.
    fn expression_text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let piece = prop_oneof![
            prop::sample::select(vec![
                "row", ".", "a", "b", "row.a", "==", "!=", " and ", " or ", "not ", "(", ")", "[",
                "]", "'x'", "\"y\"", "1", "|", "lower", "upper", "{{", "}}", "{%", "%}", " if ",
                " else ", "endif", "~", ",", "in", "none", "true", " ", "\n", "\\",
            ])
            .prop_map(str::to_owned),
            any::<char>().prop_map(String::from),
        ];
        proptest::collection::vec(piece, 0..24).prop_map(|v| v.concat())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1024))]

        /// Arbitrary text compiles or fails with an error whose range lies
        /// inside the text; what compiles evaluates (or fails) for a row
        /// holding the columns it reads, never panicking.
        #[test]
        fn arbitrary_text_compiles_or_errs(text in expression_text(), cell in ".{0,8}") {
            let env = environment();
            for result in [check_condition(&env, &text), check_template(&env, &text)] {
                match result {
                    Ok(refs) => {
                        for c in &refs.columns {
                            proptest::prop_assert!(text.contains(c.as_str()), "{c} not in {text:?}");
                        }
                    }
                    Err(e) => {
                        proptest::prop_assert!(!e.message.is_empty());
                        if let Some(r) = e.range {
                            proptest::prop_assert!(r.start <= r.end && r.end <= text.len(), "{r:?} in {}", text.len());
                        }
                    }
                }
            }
            if let Ok(refs) = check_condition(&env, &text) {
                let columns: Vec<String> = refs.columns.into_iter().collect();
                let cells = vec![cell.clone(); columns.len()];
                let row = row_value(&columns, &cells);
                let compiled = env.compile_expression(&text).expect("compiled once already");
                let _ = eval_condition(&compiled, &row);
            }
            if let Ok(refs) = check_template(&env, &text) {
                let columns: Vec<String> = refs.columns.into_iter().collect();
                let cells = vec![cell.clone(); columns.len()];
                let _ = render(&env, &text, &row_value(&columns, &cells));
            }
        }
    }

    #[test]
    fn evaluates_against_a_row() {
        let env = environment();
        let columns = ["compromised".to_owned(), "temp".to_owned()];
        let row = row_value(&columns, &["yes".to_owned(), "Pw-1!".to_owned()]);
        let when = env.compile_expression("row.compromised == 'yes'").unwrap();
        assert_eq!(eval_condition(&when, &row), Ok(true));
        let missing = env.compile_expression("row.other == 'yes'").unwrap();
        assert!(eval_condition(&missing, &row).is_err(), "strict undefined");
        assert_eq!(render(&env, "{{ row.temp }}", &row).as_deref(), Ok("Pw-1!"));
    }

    #[test]
    fn a_checked_condition_is_compiled_once_and_evaluated_per_row() {
        let (refs, c) = condition("row.compromised == 'yes'").unwrap();
        assert_eq!(cols(&refs), ["compromised"]);
        assert_eq!(c.text(), "row.compromised == 'yes'");
        assert_eq!(format!("{c:?}"), r#"Condition("row.compromised == 'yes'")"#);
        let row = |v: &str| row_value(&["compromised".to_owned()], [&v.to_owned()]);
        let shared = c.clone();
        assert_eq!(c.eval(&row("yes")), Ok(true));
        assert_eq!(shared.eval(&row("no")), Ok(false));
        assert!(condition("{{ row.a }}").is_err());
        assert!(condition("row.a ==").is_err());
    }

    #[test]
    fn budgets_bound_conditions_and_templates() {
        let env = environment();
        // Found at validate time: a constant that busts the budget.
        let e = check_condition(&env, "('a' * 100000000) | length > 0").unwrap_err();
        assert_eq!(e.kind, ExprErrorKind::OverBudget, "{}", e.message);
        assert!(condition("('a' * 100000000) | length > 0").is_err());
        let e = check_template(&env, "{{ 'a' * 100000000 }}").unwrap_err();
        assert_eq!(e.kind, ExprErrorKind::OverBudget, "{}", e.message);
        let e = check_template(&env, "{{ row.a * 70000 }}").unwrap_err();
        assert_eq!(e.kind, ExprErrorKind::OverBudget, "{}", e.message);
        // Statements are refused, at the `{%`.
        for t in [
            "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
            "{% set x = 'a' %}{{ x }}",
            "{%- for i in range(9) %}{{ row.a }}{% endfor %}",
        ] {
            let e = check_template(&env, t).unwrap_err();
            assert_eq!(e.kind, ExprErrorKind::Statement, "{t}");
            assert_eq!(e.range, Some(0..2));
            assert!(render(&env, t, &Value::from(())).is_err(), "{t}");
        }
        // Bounded at run time, where the row decides.
        let (_, c) = condition("row.a == 'go' and ('a' * 100000000) | length > 0").unwrap();
        let row = |v: &str| row_value(&["a".to_owned()], [&v.to_owned()]);
        let e = c.eval(&row("go")).unwrap_err();
        assert!(e.contains("evaluation budget"), "{e}");
        assert_eq!(c.eval(&row("no")), Ok(false));
        let e = render(shared(), "{{ row.a * 100000000 }}", &row("x")).unwrap_err();
        assert!(e.contains("evaluation budget"), "{e}");
        let long = "y".repeat(MAX_OUTPUT + 1);
        let e = render(shared(), "{{ row.a }}", &row(&long)).unwrap_err();
        assert!(e.contains("more than the 65536"), "{e}");
        assert_eq!(
            render(shared(), "{{ row.a }}", &row("ok")).as_deref(),
            Ok("ok")
        );
    }
}
