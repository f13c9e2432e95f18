//! Fuzz target: `when` conditions and `{{ }}` templates
//! (`remedy::playbook::expr`): compile arbitrary text both ways and, when it
//! compiles, evaluate it against a row built from the columns it reads, as
//! a run does.
//!
//! Input: the expression text, a NUL byte, then the row's cells separated
//! by NUL bytes (so seeds are readable text).

#![no_main]

use libfuzzer_sys::fuzz_target;
use remedy::playbook::expr;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.split('\0');
    let source = parts.next().unwrap_or_default();
    let cells: Vec<String> = parts.map(str::to_owned).collect();
    let env = expr::environment();

    if let Ok(refs) = expr::check_condition(&env, source) {
        let columns: Vec<String> = refs.columns.into_iter().collect();
        let row = expr::row_value(&columns, cells.iter().cycle().take(columns.len()));
        if let Ok(compiled) = env.compile_expression(source) {
            let _ = expr::eval_condition(&compiled, &row);
        }
    }
    if let Ok(refs) = expr::check_template(&env, source) {
        let columns: Vec<String> = refs.columns.into_iter().collect();
        let row = expr::row_value(&columns, cells.iter().cycle().take(columns.len()));
        let _ = expr::render(&env, source, &row);
    }
});
