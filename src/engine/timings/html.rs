//! The timings report as one self-contained HTML page, like `cargo build
//! --timings`: no script, no external style, font or image. The headline
//! (critical path of wall time), the run's parameters, the critical path as a
//! list, then one row per object on a shared time axis — queued, waiting for
//! a write slot, writing, waiting for readiness, and how it ended — grouped
//! by scope (each group folds away), the critical path's rows marked; last,
//! totals per scope and per kind. Hovering a row shows its phases. Pure: the
//! text comes from [`Timings`] and its [`Critical`] path.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

use super::{Critical, End, Row, Timings, seconds};

/// Scopes with more rows than this start folded unless they hold part of
/// the critical path.
const FOLD_ABOVE: usize = 200;

const STYLE: &str = r#"
body{font:13px/1.35 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:20px 28px;color:#1d2430;background:#fff}
h1{font-size:20px;margin:0 0 4px}h2{font-size:15px;margin:22px 0 8px}
.headline{font-size:15px;margin:0 0 14px}.headline b{font-size:17px}
table{border-collapse:collapse}td,th{padding:2px 10px 2px 0;text-align:left;vertical-align:top}
th{font-weight:600;border-bottom:1px solid #ccd}td.n,th.n{text-align:right}
.params td:first-child{color:#667}
ol.chain{margin:0;padding-left:22px}ol.chain li{margin:1px 0}ol.chain .t{color:#667;margin-left:8px}
.legend span{display:inline-block;margin-right:16px}.legend i{display:inline-block;width:14px;height:10px;margin-right:4px;vertical-align:-1px;border-radius:2px}
.timeline{--names:330px;--durs:64px}
.axis,.row{display:grid;grid-template-columns:var(--names) 1fr var(--durs);align-items:center}
.axis{position:sticky;top:0;background:#fff;z-index:2;border-bottom:1px solid #ccd;height:18px}
.axis .ticks{position:relative;height:18px}.axis .ticks span{position:absolute;top:2px;transform:translateX(-50%);color:#667;font-size:11px;white-space:nowrap}
details{margin:6px 0}summary{cursor:pointer;font-weight:600;padding:3px 0;background:#f3f5f9}
summary .sub{font-weight:400;color:#556;margin-left:8px}
.row{height:16px}.row:hover{background:#eef3ff}
.name{white-space:nowrap;overflow:hidden;text-overflow:ellipsis;padding-right:8px;font:12px ui-monospace,Menlo,Consolas,monospace}
.track{position:relative;height:12px;background-image:linear-gradient(to right,#e4e7ee 1px,transparent 1px);background-size:var(--tick) 100%}
.track i{position:absolute;top:1px;height:10px;min-width:1px}
.dur{text-align:right;font:12px ui-monospace,Menlo,Consolas,monospace;color:#445}
.q{background:#d9dde6}.s{background:#f0a830}.w{background:#3a78d8}.r{background:#57b884}
.e{width:3px;margin-left:-1px;top:-1px!important;height:14px!important}
.e.ready{background:#1e6b3d}.e.failed,.e.timed-out{background:#d62828}.e.pruned{background:#8a4fc4}.e.kept{background:#888}
.crit{background:#fff0f2}.crit .name{color:#b3122e;font-weight:700}.crit .track i.s,.crit .track i.w,.crit .track i.r{box-shadow:0 0 0 1px #b3122e}
.mark{color:#b3122e;font-weight:700}
"#;

/// The report.
pub fn html(timings: &Timings, critical: &Critical) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>cnvrgctl timings</title><style>{STYLE}</style></head><body>\n"
    );
    headline(&mut out, timings, critical);
    chain(&mut out, timings, critical);
    timeline(&mut out, timings, critical);
    totals(&mut out, "Totals by scope", timings, |r| r.scope.clone());
    totals(&mut out, "Totals by kind", timings, |r| r.kind.clone());
    out.push_str("</body></html>\n");
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Short durations in milliseconds, longer ones in seconds.
fn time(d: Duration) -> String {
    if d < Duration::from_millis(100) {
        format!("{} ms", d.as_millis())
    } else {
        seconds(d)
    }
}

fn headline(out: &mut String, timings: &Timings, critical: &Critical) {
    let share = if timings.wall.is_zero() {
        0.0
    } else {
        100.0 * critical.length.as_secs_f64() / timings.wall.as_secs_f64()
    };
    let slot: Duration = timings.rows.iter().map(|r| r.phases.slot_wait()).sum();
    let count = |f: &dyn Fn(&Row) -> bool| timings.rows.iter().filter(|r| f(r)).count();
    let _ = write!(
        out,
        "<h1>cnvrgctl timings</h1>\n<p class=\"headline\">critical path <b>{}</b> of \
         <b>{}</b> wall time ({share:.0}%)</p>\n<table class=\"params\">",
        seconds(critical.length),
        seconds(timings.wall),
    );
    let mut rows: Vec<(String, String)> = timings.parameters.clone();
    rows.extend([
        (
            "objects".to_string(),
            format!(
                "{} ({} written, {} ready, {} failed or timed out, {} not started)",
                timings.rows.len(),
                count(&Row::written),
                count(&|r| r.phases.end_as == End::Ready),
                count(&|r| matches!(r.phases.end_as, End::Failed | End::TimedOut)),
                count(&|r| r.phases.end_as == End::NotStarted),
            ),
        ),
        (
            "waiting on the concurrency limit (summed over objects)".to_string(),
            time(slot),
        ),
        ("API requests".to_string(), timings.requests.to_string()),
    ]);
    for (name, value) in rows {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td></tr>",
            escape(&name),
            escape(&value)
        );
    }
    out.push_str("</table>\n");
}

fn chain(out: &mut String, timings: &Timings, critical: &Critical) {
    out.push_str("<h2>Critical path</h2>\n");
    if critical.chain.is_empty() {
        out.push_str("<p>Nothing was written or waited for.</p>\n");
        return;
    }
    out.push_str("<ol class=\"chain\">");
    for &r in &critical.chain {
        let row = &timings.rows[r];
        let _ = write!(
            out,
            "<li>{}<span class=\"t\">{}</span></li>",
            escape(&row.id),
            time(row.phases.active())
        );
    }
    out.push_str("</ol>\n");
}

/// A tick every 1, 2 or 5 × 10ⁿ seconds, about ten on the axis.
fn tick(wall: Duration) -> f64 {
    let raw = wall.as_secs_f64().max(0.001) / 10.0;
    let power = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|t| *t >= raw)
        .unwrap_or(10.0 * power)
}

fn timeline(out: &mut String, timings: &Timings, critical: &Critical) {
    let scale = timings.wall.as_secs_f64().max(0.001);
    let step = tick(timings.wall);
    let _ = write!(
        out,
        "<h2>Timeline</h2>\n<p class=\"legend\">\
         <span><i class=\"q\"></i>queued (dependencies not ready)</span>\
         <span><i class=\"s\"></i>waiting for a write slot</span>\
         <span><i class=\"w\"></i>writing</span>\
         <span><i class=\"r\"></i>waiting for readiness</span>\
         <span><i class=\"e ready\"></i>ready</span>\
         <span><i class=\"e failed\"></i>failed</span>\
         <span><i class=\"e pruned\"></i>pruned</span>\
         <span class=\"mark\">bold red: on the critical path</span></p>\n\
         <div class=\"timeline\" style=\"--tick:{:.4}%\">\n<div class=\"axis\"><span></span><div class=\"ticks\">",
        100.0 * step / scale
    );
    let mut t = 0.0;
    while t <= scale + 1e-9 {
        let _ = write!(
            out,
            "<span style=\"left:{:.3}%\">{}</span>",
            100.0 * t / scale,
            if step < 1.0 {
                format!("{t:.1}s")
            } else {
                format!("{t:.0}s")
            }
        );
        t += step;
    }
    out.push_str("</div><span></span></div>\n");
    for (scope, rows) in by_scope(timings) {
        group(out, timings, critical, &scope, &rows, scale);
    }
    out.push_str("</div>\n");
}

/// Row indices by scope, each in the order the objects started.
fn by_scope(timings: &Timings) -> BTreeMap<String, Vec<usize>> {
    let mut scopes: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, row) in timings.rows.iter().enumerate() {
        scopes.entry(row.scope.clone()).or_default().push(i);
    }
    for rows in scopes.values_mut() {
        rows.sort_by_key(|&i| {
            let p = &timings.rows[i].phases;
            (p.unblocked.or(p.end).is_none(), p.unblocked.or(p.end), i)
        });
    }
    scopes
}

fn group(
    out: &mut String,
    timings: &Timings,
    critical: &Critical,
    scope: &str,
    rows: &[usize],
    scale: f64,
) {
    let on_path = rows.iter().filter(|r| critical.chain.contains(r)).count();
    let open = rows.len() <= FOLD_ABOVE || on_path > 0;
    let last = rows
        .iter()
        .filter_map(|&r| timings.rows[r].phases.end)
        .max()
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "<details{}><summary>{}<span class=\"sub\">{} objects, {} written, last done at {}{}</span></summary>",
        if open { " open" } else { "" },
        escape(scope),
        rows.len(),
        rows.iter().filter(|&&r| timings.rows[r].written()).count(),
        seconds(last),
        if on_path > 0 {
            format!(", {on_path} on the critical path")
        } else {
            String::new()
        }
    );
    for &r in rows {
        bar(out, &timings.rows[r], critical.chain.contains(&r), scale);
    }
    out.push_str("</details>\n");
}

fn bar(out: &mut String, row: &Row, on_path: bool, scale: f64) {
    let p = &row.phases;
    let pct = |d: Duration| 100.0 * d.as_secs_f64() / scale;
    let mut segments = String::new();
    let mut segment = |class: &str, from: Option<Duration>, to: Option<Duration>| {
        if let (Some(from), Some(to)) = (from, to) {
            let _ = write!(
                segments,
                "<i class=\"{class}\" style=\"left:{:.3}%;width:{:.3}%\"></i>",
                pct(from),
                pct(to.saturating_sub(from))
            );
        }
    };
    segment("q", p.unblocked.map(|_| Duration::ZERO), p.unblocked);
    segment("s", p.unblocked, p.write_start);
    segment("w", p.write_start, p.write_end);
    segment("r", p.write_end.or(p.wait_start), p.end);
    if let Some(end) = p.end {
        let _ = write!(
            segments,
            "<i class=\"e {}\" style=\"left:{:.3}%\"></i>",
            p.end_as.as_str().replace(' ', "-"),
            pct(end)
        );
    }
    let title = format!(
        "{} ({}): {}; queued {}, write slot {}, write {}, readiness {}",
        row.id,
        row.op,
        p.end_as.as_str(),
        time(p.unblocked.unwrap_or_default()),
        time(p.slot_wait()),
        time(p.write()),
        time(p.readiness_wait()),
    );
    let _ = writeln!(
        out,
        "<div class=\"row{}\" title=\"{}\"><div class=\"name\">{}</div><div class=\"track\">{segments}</div><div class=\"dur\">{}</div></div>",
        if on_path { " crit" } else { "" },
        escape(&title),
        escape(&row.short()),
        time(p.active()),
    );
}

/// Sums per key: objects, written, active, write slot and readiness times.
fn totals(out: &mut String, title: &str, timings: &Timings, key: impl Fn(&Row) -> String) {
    let mut sums: BTreeMap<String, [Duration; 4]> = BTreeMap::new();
    let mut counts: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for row in &timings.rows {
        let p = &row.phases;
        let sum = sums.entry(key(row)).or_default();
        for (s, d) in sum
            .iter_mut()
            .zip([p.active(), p.slot_wait(), p.write(), p.readiness_wait()])
        {
            *s += d;
        }
        let count = counts.entry(key(row)).or_default();
        count.0 += 1;
        count.1 += usize::from(row.written());
    }
    let _ = write!(
        out,
        "<h2>{title}</h2>\n<table class=\"totals\"><tr><th></th><th class=\"n\">objects</th>\
         <th class=\"n\">written</th><th class=\"n\">active</th><th class=\"n\">write slot</th>\
         <th class=\"n\">writing</th><th class=\"n\">readiness</th></tr>\n"
    );
    for (name, sum) in &sums {
        let (objects, wrote) = counts[name];
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"n\">{objects}</td><td class=\"n\">{wrote}</td>{}</tr>",
            escape(name),
            sum.iter()
                .map(|d| format!("<td class=\"n\">{}</td>", time(*d)))
                .collect::<String>()
        );
    }
    out.push_str("</table>\n");
}
