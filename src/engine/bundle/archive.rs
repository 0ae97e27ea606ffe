//! The archive itself: every file masked by the one redaction filter
//! ([`mask`]), then fitted under the size cap ([`fit`], pure: logs are cut
//! first, then events, then objects, and `truncated.txt` lists what was
//! left out), then written as one gzip'd tar under a folder named like the
//! archive ([`write`], the only I/O here).

use std::io::Write as _;
use std::path::Path;

use super::{File, Part};
use crate::pipeline::redact::redact;

/// The file that lists what the cap left out.
pub const TRUNCATED: &str = "truncated.txt";

/// `files` with every secret value the process knows replaced by `***`, in
/// their text and their paths. Call it after every read, so that each
/// Secret read is known.
pub fn mask(files: Vec<File>) -> Vec<File> {
    files
        .into_iter()
        .map(|f| File {
            path: redact(&f.path).into_owned(),
            text: redact(&f.text).into_owned(),
            part: f.part,
        })
        .collect()
}

/// The files that fit in `cap` bytes (uncompressed) in all, summaries first
/// and logs last: once a file does not fit, every file after it is left
/// out too, so logs go first. `truncated.txt` (counted in the cap) names
/// every file left out; `files` unchanged but sorted when they all fit.
pub fn fit(mut files: Vec<File>, cap: u64) -> Vec<File> {
    files.sort_by_key(|f| f.part);
    let mut total = 0;
    let mut kept = Vec::new();
    let mut skipped = Vec::new();
    for file in files {
        let size = file.text.len() as u64;
        if skipped.is_empty() && total + size <= cap {
            total += size;
            kept.push(file);
        } else {
            skipped.push(file);
        }
    }
    if skipped.is_empty() {
        return kept;
    }
    let mut note = truncated(&skipped, cap);
    while total + note.text.len() as u64 > cap {
        let Some(last) = kept.pop() else { break };
        total -= last.text.len() as u64;
        skipped.insert(0, last);
        note = truncated(&skipped, cap);
    }
    kept.push(note);
    kept
}

/// `truncated.txt` for the files in `skipped`.
fn truncated(skipped: &[File], cap: u64) -> File {
    let mut text = format!(
        "The bundle reached its size cap ({cap} bytes uncompressed, --max-size); \
         these {} file(s) were left out:\n",
        skipped.len()
    );
    let mut sorted: Vec<&File> = skipped.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    for file in sorted {
        text.push_str(&format!("{} ({} bytes)\n", file.path, file.text.len()));
    }
    File::new(TRUNCATED, text, Part::Summary)
}

/// Writes `files` as a gzip'd tar at `path`, each under `folder/`. A
/// partly written archive is removed.
pub fn write(path: &Path, folder: &str, files: &[File]) -> std::io::Result<()> {
    let written = write_to(path, folder, files);
    if written.is_err() {
        let _ = std::fs::remove_file(path);
    }
    written
}

fn write_to(path: &Path, folder: &str, files: &[File]) -> std::io::Result<()> {
    let out = std::fs::File::create(path)?;
    let gzip = flate2::write::GzEncoder::new(out, flate2::Compression::default());
    let mut tar = tar::Builder::new(gzip);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    for file in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(file.text.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(now);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(
            &mut header,
            format!("{folder}/{}", file.path),
            file.text.as_bytes(),
        )?;
    }
    tar.into_inner()?.finish()?.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, size: usize, part: Part) -> File {
        File::new(path, "x".repeat(size), part)
    }

    #[test]
    fn everything_fits_under_a_large_cap() {
        let files = vec![
            file("logs/a.log", 10, Part::Logs),
            file("version.txt", 10, Part::Summary),
        ];
        let kept = fit(files, 1000);
        let paths: Vec<&str> = kept.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["version.txt", "logs/a.log"]);
    }

    #[test]
    fn logs_are_cut_first_and_the_cut_is_listed_within_the_cap() {
        let files = vec![
            file("logs/ns/p/c.log", 3000, Part::Logs),
            file("objects/ns/Deployment.d.yaml", 400, Part::Objects),
            file("events/ns.txt", 500, Part::Events),
            file("version.txt", 100, Part::Summary),
            file("logs/ns/p/c.previous.log", 200, Part::Logs),
        ];
        let cap = 1300;
        let kept = fit(files, cap);
        let total: usize = kept.iter().map(|f| f.text.len()).sum();
        assert!(total as u64 <= cap, "{total} > {cap}");
        let paths: Vec<&str> = kept.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "version.txt",
                "objects/ns/Deployment.d.yaml",
                "events/ns.txt",
                TRUNCATED
            ]
        );
        let note = &kept.last().unwrap().text;
        assert!(note.contains("logs/ns/p/c.log (3000 bytes)"), "{note}");
        assert!(
            note.contains("logs/ns/p/c.previous.log (200 bytes)"),
            "{note}"
        );
    }

    #[test]
    fn the_note_makes_room_for_itself() {
        let files = vec![
            file("version.txt", 100, Part::Summary),
            file("events/ns.txt", 190, Part::Events),
            file("logs/ns/p/c.log", 500, Part::Logs),
        ];
        let kept = fit(files, 300);
        let total: usize = kept.iter().map(|f| f.text.len()).sum();
        assert!(total <= 300, "{total}");
        let paths: Vec<&str> = kept.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["version.txt", TRUNCATED]);
        assert!(kept[1].text.contains("events/ns.txt"));
    }

    #[test]
    fn the_archive_holds_each_file_under_its_folder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.tar.gz");
        let files = vec![
            File::new("version.txt", "cnvrgctl: 0.1.0\n", Part::Summary),
            File::new("logs/ns/p/c.log", "line\n", Part::Logs),
        ];
        write(&path, "bundle", &files).unwrap();
        let gzip = flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap());
        let mut archive = tar::Archive::new(gzip);
        let mut seen = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let mut text = String::new();
            std::io::Read::read_to_string(&mut entry, &mut text).unwrap();
            seen.push((entry.path().unwrap().display().to_string(), text));
        }
        assert_eq!(
            seen,
            [
                (
                    "bundle/version.txt".to_string(),
                    "cnvrgctl: 0.1.0\n".to_string()
                ),
                ("bundle/logs/ns/p/c.log".to_string(), "line\n".to_string()),
            ]
        );
    }
}
