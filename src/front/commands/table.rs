//! Rows as aligned text columns: the tables `status`, `tenant list` and
//! `preflight` print.

/// Rows as aligned columns (two spaces apart; the last column unpadded).
pub(super) fn columns<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> String {
    let mut widths: [usize; N] = header.map(str::len);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == N {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            }
        }
        text.trim_end().to_string() + "\n"
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align() {
        let rows = [
            ["a".to_string(), "long-value".to_string()],
            ["bbb".to_string(), "x".to_string()],
        ];
        assert_eq!(
            columns(["K", "V"], &rows),
            "K    V\na    long-value\nbbb  x\n"
        );
    }
}
