//! CSV cells that are safe to open in a spreadsheet, written once for every export (the journal
//! export of the command line and the desktop, the day close, the central's audit log).
//!
//! A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return would be run as a
//! formula by a spreadsheet (a decline reason or a note is text from outside Paydesk), so it gets
//! a leading `'`; a cell holding a comma, a quote or a line break is quoted (RFC 4180).
//! Deliberately absent: files and writers (each front end writes where its person asked).

use std::borrow::Cow;

/// The characters that make a spreadsheet read a cell as a formula when they come first.
const FORMULA_LEADS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// `text` with a leading `'` when a spreadsheet would run it as a formula; not quoted (for a
/// writer that quotes by itself, such as the `csv` crate's).
pub fn formula_guard(text: &str) -> Cow<'_, str> {
    if text.starts_with(FORMULA_LEADS) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// One finished CSV cell: guarded against formulas, and quoted when it holds a comma, a quote
/// or a line break.
pub fn csv_cell(text: &str) -> String {
    let guarded = formula_guard(text);
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded.into_owned()
    }
}

/// One CSV line (without its line break) of `cells`, each through [`csv_cell`].
pub fn csv_row<S: AsRef<str>>(cells: &[S]) -> String {
    cells
        .iter()
        .map(|c| csv_cell(c.as_ref()))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_a_spreadsheet_would_run_as_formulas_get_a_quote_mark() {
        for (cell, exported) in [
            ("=1+1", "'=1+1"),
            ("+SUM(A1)", "'+SUM(A1)"),
            ("-2+3", "'-2+3"),
            ("@cmd", "'@cmd"),
            ("\tx", "'\tx"),
            ("\rx", "\"'\rx\""),
            ("generic_decline", "generic_decline"),
            ("129.00", "129.00"),
            ("", ""),
        ] {
            assert_eq!(csv_cell(cell), exported, "{cell:?}");
        }
    }

    #[test]
    fn commas_quotes_and_line_breaks_are_quoted() {
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("two\nlines"), "\"two\nlines\"");
        assert_eq!(
            csv_cell("=HYPERLINK(\"x\",1)"),
            "\"'=HYPERLINK(\"\"x\"\",1)\""
        );
        assert_eq!(csv_row(&["a", "=b", "c,d"]), "a,'=b,\"c,d\"");
    }

    #[test]
    fn the_guard_alone_does_not_quote() {
        assert_eq!(formula_guard("=x,y"), "'=x,y");
        assert_eq!(formula_guard("x,y"), "x,y");
    }
}
