//! The IO edge of `callsync import`: read the file, report on stderr, write the YAML.
//! stdout carries only YAML, so `callsync import x.csv | kubectl apply --server-side -f -` works.
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::rows::Category;
use super::{ImportArgs, ImportError, ImportOptions, Imported, import, render};
use crate::cli::private_files::{WhenExposed, private_dir, write_private_file};

/// Runs `callsync import`.
pub fn execute(args: &ImportArgs) -> Result<(), ImportError> {
    let opts = args.options()?;
    let bytes = read_input(&args.file)?;
    let imported = import(&bytes, &opts)?;
    drop(bytes);
    let mut err = std::io::stderr().lock();
    // stderr is for people; a failed write there must not turn a good import into a failure.
    let _ = writeln!(
        err,
        "{}: {}, delimiter {}, header on line {}: {}",
        args.file.display(),
        imported.encoding,
        delimiter_name(imported.delimiter),
        imported.header_line,
        imported.columns.describe()
    );
    for note in &imported.columns.notes {
        let _ = writeln!(err, "note: {note}");
    }
    report_problems(&mut err, &imported, args.max_reported);
    if args.strict && !imported.problems.is_empty() {
        return Err(ImportError::Strict {
            invalid: imported.problems.len(),
            read: imported.rows_read,
        });
    }
    if imported.contact_count() == 0 {
        return Err(ImportError::NoContacts(imported.rows_read));
    }
    match &args.out {
        None => write_stdout(&imported, &opts)?,
        Some(dir) => write_dir(dir, &imported, &opts, &mut err)?,
    }
    let _ = writeln!(err, "{}", summary(&imported));
    Ok(())
}

fn read_input(path: &Path) -> Result<Vec<u8>, ImportError> {
    let read_err = |source| ImportError::Read {
        path: path.to_path_buf(),
        source,
    };
    if path == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::stdin().read_to_end(&mut bytes).map_err(read_err)?;
        Ok(bytes)
    } else {
        std::fs::read(path).map_err(read_err)
    }
}

fn report_problems(err: &mut impl Write, imported: &Imported, max: usize) {
    let shown = if max == 0 { usize::MAX } else { max };
    for p in imported.problems.iter().take(shown) {
        let _ = writeln!(err, "{p}");
    }
    let more = imported.problems.len().saturating_sub(shown);
    if more > 0 {
        let _ = writeln!(
            err,
            "… and {more} more skipped rows (--max-reported 0 lists them all)"
        );
    }
}

fn write_stdout(imported: &Imported, opts: &ImportOptions) -> Result<(), ImportError> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let total = imported.shards.len();
    for (i, shard) in imported.shards.iter().enumerate() {
        out.write_all(b"---\n").map_err(ImportError::Stdout)?;
        out.write_all(render::document(shard, i, total, opts).as_bytes())
            .map_err(ImportError::Stdout)?;
    }
    out.flush().map_err(ImportError::Stdout)
}

/// Writes `NAME-001.yaml`, …; names files of an earlier, bigger import that are left behind.
/// The files hold phone numbers: the folder is created 0700 (an existing one that others can
/// read is refused, not changed: it is the user's) and the files 0600.
fn write_dir(
    dir: &Path,
    imported: &Imported,
    opts: &ImportOptions,
    err: &mut impl Write,
) -> Result<(), ImportError> {
    let write_err = |path: PathBuf| move |source| ImportError::Write { path, source };
    private_dir(dir, WhenExposed::Refuse)?;
    let total = imported.shards.len();
    let mut written = Vec::with_capacity(total);
    for (i, shard) in imported.shards.iter().enumerate() {
        let file = format!("{}.yaml", shard.name);
        let path = dir.join(&file);
        write_private_file(&path, render::document(shard, i, total, opts).as_bytes())
            .map_err(write_err(path.clone()))?;
        written.push(file);
    }
    for stale in stale_files(dir, &opts.name, &written) {
        let _ = writeln!(
            err,
            "note: {} is from an earlier import and was left in place; delete it (and its \
             ContactList) if the list got shorter",
            dir.join(stale).display()
        );
    }
    Ok(())
}

/// `NAME-<digits>.yaml` files in `dir` that this import did not write.
fn stale_files(dir: &Path, name: &str, written: &[String]) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let prefix = format!("{name}-");
    let mut stale: Vec<String> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|f| {
            f.strip_prefix(&prefix)
                .and_then(|r| r.strip_suffix(".yaml"))
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
        .filter(|f| !written.contains(f))
        .collect();
    stale.sort();
    stale
}

/// `imported 8990 of 9000 rows into 3 ContactLists (q3-001 … q3-003); 10 rows skipped: …`
fn summary(imported: &Imported) -> String {
    let shards = &imported.shards;
    let names = match (shards.first(), shards.last()) {
        (Some(a), Some(b)) if shards.len() > 1 => format!("{} … {}", a.name, b.name),
        (Some(a), _) => a.name.clone(),
        _ => String::new(),
    };
    let mut line = format!(
        "imported {} of {} rows into {} ContactList{} ({names})",
        imported.contact_count(),
        imported.rows_read,
        shards.len(),
        if shards.len() == 1 { "" } else { "s" }
    );
    if imported.problems.is_empty() {
        line.push_str("; no rows skipped");
    } else {
        let mut by: BTreeMap<Category, usize> = BTreeMap::new();
        for p in &imported.problems {
            *by.entry(p.problem.category()).or_default() += 1;
        }
        let parts: Vec<String> = by.iter().map(|(c, n)| c.count(*n)).collect();
        let n = imported.problems.len();
        let rows = if n == 1 { "row" } else { "rows" };
        line.push_str(&format!("; {n} {rows} skipped: {}", parts.join(", ")));
    }
    line
}

fn delimiter_name(d: u8) -> String {
    match d {
        b'\t' => "tab".into(),
        d => format!("'{}'", char::from(d)),
    }
}
