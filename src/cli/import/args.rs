//! The flags of `callsync import`, and their check into [`ImportOptions`].
use std::path::{Path, PathBuf};

use clap::Args;

use super::ImportError;
use super::flags;
use super::options::{self, ImportOptions};

/// Flags of `callsync import`.
#[derive(Args, Debug, Clone)]
pub struct ImportArgs {
    /// The CSV file (`-` reads standard input). UTF-8, UTF-8 with BOM, UTF-16 with BOM and
    /// GBK/GB18030 are recognised.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Write one file per ContactList (`NAME-001.yaml`, …) into this folder instead of printing
    /// a multi-document stream.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Base name of the ContactLists (`NAME-001`, `NAME-002`, …); a DNS-1123 label. Default:
    /// the file name without its extension, when that is one.
    #[arg(long)]
    pub name: Option<String>,
    /// `metadata.namespace` of every ContactList (default: none, kubectl's current one).
    #[arg(long, short = 'n')]
    pub namespace: Option<String>,
    /// Labels of every ContactList, `key=value,key2=value2`, besides `callsync.io/list: NAME`
    /// (a CallTask selects all shards with `matchLabels: {callsync.io/list: NAME}`).
    #[arg(long, short = 'l', value_name = "KEY=VALUE,...")]
    pub labels: Vec<String>,
    /// ISO 3166 region for numbers written without a country code.
    #[arg(long, default_value = "CN", value_name = "REGION")]
    pub default_region: String,
    /// Most contacts a ContactList (the schema allows 5000).
    #[arg(long, default_value_t = options::DEFAULT_SHARD_SIZE as u64,
          value_parser = clap::value_parser!(u64).range(1..=options::MAX_SHARD_SIZE as u64))]
    pub shard_size: u64,
    /// Which header holds which field: `phone=手机号,name=姓名,company=公司,email=邮箱,extra=备注`.
    /// Fields not mapped are found by common headers; other columns become variables.
    #[arg(long, short = 'm', value_name = "FIELD=HEADER,...")]
    pub map: Vec<String>,
    /// Input encoding: `auto`, or a name such as `utf-8`, `gbk`, `gb18030`, `utf-16le`, `big5`.
    #[arg(long, default_value = "auto")]
    pub encoding: String,
    /// Field delimiter: `auto`, `,`, `;`, `|` or `tab`.
    #[arg(long, default_value = "auto")]
    pub delimiter: String,
    /// Fail (exit 1, nothing written) when any row is invalid or a duplicate.
    #[arg(long)]
    pub strict: bool,
    /// Most skipped rows listed on stderr (0: all); the summary counts every one.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub max_reported: usize,
}

impl ImportArgs {
    /// The checked options of this import.
    pub fn options(&self) -> Result<ImportOptions, ImportError> {
        let name = match &self.name {
            Some(n) => n.clone(),
            None => default_name(&self.file)?,
        };
        let mut opts = ImportOptions::new(&name)?;
        if let Some(ns) = &self.namespace {
            options::check_namespace(ns)?;
            opts.namespace = Some(ns.clone());
        }
        opts.labels
            .extend(options::parse_labels(&self.labels.join(","))?);
        options::check_region(&self.default_region)?;
        opts.default_region = self.default_region.clone();
        opts.shard_size = usize::try_from(self.shard_size).unwrap_or(options::MAX_SHARD_SIZE);
        opts.map = options::parse_map(&self.map.join(","))?;
        if self.encoding != "auto" {
            opts.encoding = Some(flags::encoding_for_label(&self.encoding)?);
        }
        if self.delimiter != "auto" {
            opts.delimiter = Some(
                flags::parse_delimiter(&self.delimiter)
                    .ok_or_else(|| ImportError::Delimiter(self.delimiter.clone()))?,
            );
        }
        Ok(opts)
    }
}

fn default_name(file: &Path) -> Result<String, ImportError> {
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    options::name_from_file_stem(&stem).ok_or(ImportError::NoName(
        file.file_name()
            .map_or_else(|| "-".into(), |f| f.to_string_lossy().into_owned()),
    ))
}
