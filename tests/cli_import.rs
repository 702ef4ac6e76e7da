//! `callsync import` as people run it: the real binary on real-world CSV files (Excel's UTF-8
//! with BOM, GBK from a Chinese Windows, semicolons, UTF-16 "Unicode text", broken rows), its
//! YAML read back through the same types and desired-set builder the controller uses, and
//! applied with `kubectl apply --server-side` to a real kube-apiserver.
mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use callsync::api::{Contact, ContactList};
use callsync::contacts::csv::{parse_csv, parse_csv_bytes};
use callsync::contacts::{DesiredSet, ListContacts, ListInput};
use kube::Api;
use kube::api::ListParams;
use serde::Deserialize;

/// One run of the binary.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn callsync(args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_callsync"));
    command.arg("import").args(args);
    let output: Output = match stdin {
        Some(bytes) => support::tools::run(&mut command, bytes),
        None => command
            .stdin(Stdio::null())
            .output()
            .expect("run callsync import"),
    };
    Run {
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

/// Runs an import that must succeed.
fn import_ok(args: &[&str]) -> Run {
    let run = callsync(args, None);
    assert_eq!(run.code, Some(0), "import {args:?} failed: {}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    run
}

fn fixture(name: &str) -> String {
    support::repo_root()
        .join("tests/fixtures/import")
        .join(name)
        .display()
        .to_string()
}

/// The ContactLists of a multi-document YAML stream.
fn lists(yaml: &str) -> Vec<ContactList> {
    serde_yaml::Deserializer::from_str(yaml)
        .map(|doc| ContactList::deserialize(doc).expect("a ContactList"))
        .collect()
}

/// The ContactLists written into `dir`, by file name.
fn lists_in(dir: &Path) -> BTreeMap<String, ContactList> {
    std::fs::read_dir(dir)
        .expect("read --out folder")
        .map(|e| e.expect("dir entry").path())
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read shard");
            let mut docs = lists(&text);
            assert_eq!(docs.len(), 1, "{} holds one ContactList", p.display());
            (
                p.file_name().expect("name").to_string_lossy().into_owned(),
                docs.remove(0),
            )
        })
        .collect()
}

/// Every contact of `lists`, in order.
fn contacts(lists: &[ContactList]) -> Vec<Contact> {
    lists
        .iter()
        .flat_map(|l| l.spec.contacts.iter().cloned())
        .collect()
}

fn var<'a>(c: &'a Contact, key: &str) -> Option<&'a str> {
    c.variables.get(key).map(String::as_str)
}

/// The stderr lines that report a row.
fn row_reports(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.starts_with("line ")).collect()
}

/// `n` rows of CN mobiles `130` + 8 digits from `first`, canonical English headers (which the
/// contacts module's own CSV reader also takes), a variable that varies.
fn generated_csv(first: u64, n: u64) -> String {
    let mut text = String::from("phone,name,company,email,city\n");
    for i in first..first + n {
        let company = if i % 3 == 0 { "华夏银行" } else { "" };
        text.push_str(&format!(
            "130{i:08},客户{i},{company},c{i}@example.com,城市{}\n",
            i % 7
        ));
    }
    text
}

#[test]
fn excel_utf8_with_bom_and_chinese_headers() {
    let run = import_ok(&[&fixture("customers-utf8-bom.csv"), "--name", "customers"]);
    let lists = lists(&run.stdout);
    assert_eq!(lists.len(), 1);
    let list = &lists[0];
    assert_eq!(list.metadata.name.as_deref(), Some("customers-001"));
    assert_eq!(list.spec.default_region.as_deref(), Some("CN"));
    let labels = list.metadata.labels.clone().expect("labels");
    assert_eq!(
        labels.get("callsync.io/list").map(String::as_str),
        Some("customers")
    );
    let c = &list.spec.contacts;
    let phones: Vec<&str> = c.iter().map(|c| c.phone.as_str()).collect();
    assert_eq!(
        phones,
        vec![
            "+8613012121211",
            "+8613012121212",
            "+8613012121213",
            "+8613012121214",
            "+861012345678"
        ]
    );
    assert_eq!(c[0].name.as_deref(), Some("张三"));
    assert_eq!(c[0].company.as_deref(), Some("北京某某科技有限公司"));
    assert_eq!(var(&c[0], "城市"), Some("北京"));
    assert_eq!(var(&c[0], "备注"), Some("老客户"));
    assert_eq!(c[1].company.as_deref(), Some("上海贸易, 有限公司"));
    assert_eq!(var(&c[1], "备注"), None, "empty cells are absent");
    assert_eq!(var(&c[2], "备注"), Some("说 \"你好\""));
    assert_eq!(
        c[3].name.as_deref(),
        Some("赵六"),
        "Excel's leading ' is dropped"
    );
    assert!(
        run.stderr
            .contains("UTF-8, delimiter ',', header on line 1: phone ← 手机号, name ← 姓名, company ← 公司; variables: 城市, 备注"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("imported 5 of 5 rows into 1 ContactList (customers-001); no rows skipped"),
        "{}",
        run.stderr
    );
}

#[test]
fn gbk_file_from_a_chinese_excel() {
    // The committed file is real GBK bytes (not valid UTF-8): auto-detection reads GB18030.
    let bytes = std::fs::read(fixture("customers-gbk.csv")).expect("fixture");
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "the fixture must be GBK"
    );
    for extra in [&[][..], &["--encoding", "gbk"][..]] {
        let mut args = vec![fixture("customers-gbk.csv")];
        args.extend(["--name", "gbk"].map(String::from));
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = import_ok(&args);
        let c = contacts(&lists(&run.stdout));
        assert_eq!(c.len(), 3, "{}", run.stderr);
        assert_eq!(c[0].name.as_deref(), Some("陈一"));
        assert_eq!(c[0].company.as_deref(), Some("华夏银行"));
        assert_eq!(c[0].email.as_deref(), Some("chen@example.com"));
        assert_eq!(var(&c[0], "意向等级"), Some("高"));
        assert_eq!(
            row_reports(&run.stderr),
            vec!["line 5: phone 131****567 is too short for region CN"]
        );
        assert!(
            run.stderr
                .contains("phone ← 联系电话, name ← 客户姓名, company ← 单位名称, email ← 邮箱"),
            "{}",
            run.stderr
        );
    }
    // Forced UTF-8 on GBK bytes: one line naming the first bad line, nothing on stdout.
    let run = callsync(
        &[
            &fixture("customers-gbk.csv"),
            "--name",
            "gbk",
            "--encoding",
            "utf-8",
        ],
        None,
    );
    assert_eq!(run.code, Some(1));
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr
            .starts_with("error: CSV line 1: the bytes are not valid UTF-8; pass --encoding"),
        "{}",
        run.stderr
    );
}

#[test]
fn gb18030_characters_beyond_gbk_encoded_in_the_test() {
    // 𠀀 and 䶮 are four-byte GB18030 sequences that GBK lacks; 喆 and 镕 are in GBK.
    let text = "姓名,电话号码,邮箱\r\n王喆,13012120301,\r\n朱镕,13012120302,\r\n𠀀䶮,13012120303,z@example.cn\r\n";
    let (bytes, _, unmappable) = encoding_rs::GB18030.encode(text);
    assert!(!unmappable);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("名单.csv");
    std::fs::write(&path, &bytes).expect("write");
    let run = import_ok(&[path.to_str().expect("utf-8 path"), "--name", "vip"]);
    assert!(run.stderr.contains("GB18030"), "{}", run.stderr);
    let c = contacts(&lists(&run.stdout));
    let names: Vec<&str> = c.iter().filter_map(|c| c.name.as_deref()).collect();
    assert_eq!(names, vec!["王喆", "朱镕", "𠀀䶮"]);
    assert_eq!(c[2].email.as_deref(), Some("z@example.cn"));
}

#[test]
fn mixed_valid_and_invalid_rows_are_reported_by_line() {
    let run = import_ok(&[&fixture("mixed-rows.csv")]);
    assert_eq!(
        row_reports(&run.stderr),
        vec![
            "line 3: phone 130****000 is too short for region CN",
            "line 4: phone is empty",
            "line 5: phone is not a number (unexpected 'c')",
            "line 6: phone +86130****0001 repeats line 2; the row is skipped",
            "line 7: phone 13****10 lost digits to scientific notation in the spreadsheet; format the column as text and export again",
            "line 8: expected 5 fields, found 3",
            "line 15: phone +99****456 has an unknown country code 999",
        ]
    );
    assert!(
        run.stderr.contains(
            "imported 4 of 11 rows into 1 ContactList (mixed-rows-001); 7 rows skipped: \
             4 invalid phones, 1 empty phone, 1 duplicate, 1 malformed row"
        ),
        "{}",
        run.stderr
    );
    // No full number reaches stderr, valid or not.
    for full in [
        "1301212000",
        "13012120001",
        "8613012120001",
        "999123456",
        "442079460958",
    ] {
        assert!(!run.stderr.contains(full), "{full} leaked: {}", run.stderr);
    }
    let lists = lists(&run.stdout);
    assert_eq!(lists[0].metadata.name.as_deref(), Some("mixed-rows-001"));
    let c = contacts(&lists);
    let phones: Vec<&str> = c.iter().map(|c| c.phone.as_str()).collect();
    assert_eq!(
        phones,
        vec![
            "+8613012120001",
            "+8613012120011",
            "+442079460958",
            "+8613012120015"
        ]
    );
    assert_eq!(c[0].name.as_deref(), Some("Alice"));
    assert_eq!(var(&c[0], "plan"), Some("gold"));
    assert_eq!(
        c[1].name.as_deref(),
        Some("Heidi\nHopper"),
        "quoted cells keep line breaks"
    );
    assert_eq!(c[1].company.as_deref(), Some("Multi\nLine Co"));
    assert_eq!(c[2].email.as_deref(), Some("ivan@example.co.uk"));
}

#[test]
fn strict_fails_on_any_invalid_row_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let run = callsync(
        &[
            &fixture("mixed-rows.csv"),
            "--strict",
            "--out",
            out.to_str().expect("path"),
        ],
        None,
    );
    assert_eq!(run.code, Some(1));
    assert_eq!(run.stdout, "");
    assert!(!out.exists(), "--strict wrote {}", out.display());
    assert_eq!(row_reports(&run.stderr).len(), 7, "{}", run.stderr);
    assert!(
        run.stderr.ends_with(
            "error: 7 of 11 rows are invalid and --strict is set; nothing was written\n"
        ),
        "{}",
        run.stderr
    );
    // The same flag on a clean file changes nothing.
    let run = import_ok(&[
        &fixture("customers-utf8-bom.csv"),
        "--name",
        "c",
        "--strict",
    ]);
    assert_eq!(contacts(&lists(&run.stdout)).len(), 5);
}

#[test]
fn map_names_columns_that_no_alias_matches() {
    let run = callsync(&[&fixture("custom-headers.csv"), "--name", "calls"], None);
    assert_eq!(run.code, Some(1));
    assert_eq!(
        run.stderr,
        "error: no phone column among the headers (客户, 主叫号码, 分组, 公司全称); name it \
         with --map phone=<header>\n"
    );
    let run = import_ok(&[
        &fixture("custom-headers.csv"),
        "--name",
        "calls",
        "--map",
        "phone=主叫号码,name=客户",
        "-m",
        "company=公司全称",
    ]);
    let c = contacts(&lists(&run.stdout));
    assert_eq!(c.len(), 2);
    assert_eq!(c[0].phone, "+8613012120201");
    assert_eq!(c[0].name.as_deref(), Some("钱七"));
    assert_eq!(c[0].company.as_deref(), Some("七星集团"));
    assert_eq!(var(&c[0], "分组"), Some("A组"));
    assert_eq!(c[1].company, None);
}

#[test]
fn semicolons_sep_line_and_utf16_tab_text() {
    let run = import_ok(&[&fixture("semicolon-sep.csv"), "--name", "eu"]);
    let c = contacts(&lists(&run.stdout));
    assert_eq!(c.len(), 2, "{}", run.stderr);
    assert_eq!(c[0].company.as_deref(), Some("A;B GmbH"));
    assert!(
        run.stderr.contains("delimiter ';', header on line 2"),
        "{}",
        run.stderr
    );

    // Excel's "Unicode text": UTF-16LE with a BOM, tab-separated. Line 3 is invalid.
    let text = "手机\t姓名\t城市\r\n13012120401\t甲\t杭州\r\n12345\t乙\t苏州\r\n";
    let mut bytes = vec![0xff, 0xfe];
    for unit in text.encode_utf16() {
        bytes.extend(unit.to_le_bytes());
    }
    let run = callsync(&["-", "--name", "unicode-text"], Some(&bytes));
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr.contains("UTF-16LE, delimiter tab"),
        "{}",
        run.stderr
    );
    assert_eq!(
        row_reports(&run.stderr),
        vec!["line 3: phone ****5 is too short for region CN"]
    );
    let c = contacts(&lists(&run.stdout));
    assert_eq!(c.len(), 1);
    assert_eq!(var(&c[0], "城市"), Some("杭州"));
}

#[test]
fn nine_thousand_rows_make_three_shards_in_a_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = dir.path().join("q3.csv");
    std::fs::write(&csv, generated_csv(0, 9000)).expect("write csv");
    let out = dir.path().join("lists");
    let (csv_arg, out_arg) = (csv.to_str().expect("path"), out.to_str().expect("path"));
    let run = import_ok(&[
        csv_arg,
        "--out",
        out_arg,
        "--namespace",
        "sales",
        "--labels",
        "team=sales,callsync.io/campaign=q3",
    ]);
    assert_eq!(run.stdout, "", "--out leaves stdout empty");
    assert!(
        run.stderr
            .contains("imported 9000 of 9000 rows into 3 ContactLists (q3-001 … q3-003)"),
        "{}",
        run.stderr
    );
    let files = lists_in(&out);
    let sizes: Vec<(&str, usize)> = files
        .iter()
        .map(|(f, l)| (f.as_str(), l.spec.contacts.len()))
        .collect();
    assert_eq!(
        sizes,
        vec![
            ("q3-001.yaml", 4000),
            ("q3-002.yaml", 4000),
            ("q3-003.yaml", 1000)
        ]
    );
    for (file, list) in &files {
        assert_eq!(list.metadata.name.as_deref(), file.strip_suffix(".yaml"));
        assert_eq!(list.metadata.namespace.as_deref(), Some("sales"));
        let labels = list.metadata.labels.clone().expect("labels");
        let labels: Vec<(&str, &str)> = labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            labels,
            vec![
                ("callsync.io/campaign", "q3"),
                ("callsync.io/list", "q3"),
                ("team", "sales")
            ]
        );
    }
    let all: Vec<ContactList> = files.into_values().collect();
    let phones: Vec<String> = contacts(&all).into_iter().map(|c| c.phone).collect();
    let expected: Vec<String> = (0..9000u64).map(|i| format!("+86130{i:08}")).collect();
    assert_eq!(phones, expected, "every row once, in file order");

    // A shorter list later: the third file is left and named, not silently kept.
    std::fs::write(&csv, generated_csv(0, 5000)).expect("write csv");
    let run = import_ok(&[csv_arg, "--out", out_arg]);
    assert!(
        run.stderr
            .contains("q3-003.yaml is from an earlier import and was left in place"),
        "{}",
        run.stderr
    );
    assert_eq!(lists_in(&out)["q3-002.yaml"].spec.contacts.len(), 1000);
}

#[test]
fn hundred_thousand_rows_with_known_bad_lines() {
    // Every 1000th data row has a short number, every 997th repeats the row before; the
    // header is line 1, so data row i is on line i + 2.
    let mut text = String::from("姓名,手机号,城市\n");
    let mut bad = BTreeMap::new();
    for i in 0..100_000u64 {
        let line = i + 2;
        if i % 1000 == 999 {
            text.push_str(&format!("客户{i},1301{i:05},北京\n"));
            bad.insert(line, "too short");
        } else if i % 997 == 996 && i % 1000 != 0 {
            text.push_str(&format!("客户{i},130{:08},上海\n", i - 1));
            bad.insert(line, "repeats");
        } else {
            text.push_str(&format!("客户{i},130{i:08},广州\n"));
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = dir.path().join("big.csv");
    std::fs::write(&csv, &text).expect("write csv");
    let run = import_ok(&[csv.to_str().expect("path"), "--max-reported", "0"]);
    let reported: BTreeMap<u64, &str> = row_reports(&run.stderr)
        .into_iter()
        .map(|l| {
            let (line, rest) = l
                .strip_prefix("line ")
                .and_then(|l| l.split_once(": "))
                .expect("line N: …");
            let kind = if rest.contains("too short") {
                "too short"
            } else {
                "repeats"
            };
            (line.parse().expect("number"), kind)
        })
        .collect();
    assert_eq!(reported, bad);
    let lists = lists(&run.stdout);
    assert_eq!(
        lists.len(),
        25,
        "{} valid contacts at 4000 a shard",
        100_000 - bad.len()
    );
    assert_eq!(lists[24].metadata.name.as_deref(), Some("big-025"));
    let all = contacts(&lists);
    assert_eq!(all.len(), 100_000 - bad.len());
    let distinct: std::collections::BTreeSet<&str> = all.iter().map(|c| c.phone.as_str()).collect();
    assert_eq!(distinct.len(), all.len());
    assert!(
        all.iter()
            .all(|c| c.phone.starts_with("+86130") && c.phone.len() == 14)
    );
    assert!(lists.iter().all(|l| l.spec.contacts.len() <= 4000));
    assert!(
        run.stderr.contains(&format!(
            "imported {} of 100000 rows into 25 ContactLists (big-001 … big-025); {} rows skipped: 100 invalid phones, {} duplicates",
            all.len(),
            bad.len(),
            bad.len() - 100
        )),
        "{}",
        run.stderr.lines().last().unwrap_or_default()
    );
}

#[test]
fn shards_build_the_same_desired_set_as_the_csv() {
    // The controller's own CSV reader and `DesiredSet::build` over the imported shards agree:
    // same contacts, same digest. Two rows at the end are invalid, the last repeats row 3 with
    // another name (the first wins in both).
    let mut text = generated_csv(0, 50);
    text.push_str("130,bad,,,\nnot a phone,bad,,,\n13000000003,again,,,\n");
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = dir.path().join("digest.csv");
    std::fs::write(&csv, &text).expect("write csv");
    let run = import_ok(&[csv.to_str().expect("path"), "--shard-size", "7"]);
    let shards = lists(&run.stdout);
    assert_eq!(shards.len(), 8);
    let names: Vec<String> = shards
        .iter()
        .map(|l| l.metadata.name.clone().expect("name"))
        .collect();
    let inputs: Vec<ListInput<'_>> = shards
        .iter()
        .zip(&names)
        .map(|(l, name)| ListInput {
            name,
            default_region: l.spec.default_region.as_deref(),
            contacts: ListContacts::Inline(&l.spec.contacts),
        })
        .collect();
    let from_shards = DesiredSet::build(&inputs);
    let parsed = parse_csv(&text).expect("the contacts module reads the CSV");
    let from_csv = DesiredSet::build(&[ListInput {
        name: "csv",
        default_region: Some("CN"),
        contacts: ListContacts::Csv(&parsed),
    }]);
    assert_eq!(from_shards.len(), 50);
    assert_eq!(from_shards.digest, from_csv.digest);
    assert!(from_shards.contacts().eq(from_csv.contacts()));
    assert_eq!(
        from_shards.invalid_count(),
        0,
        "the shards hold valid contacts only"
    );
    assert_eq!(from_shards.conflict_count, 0);
    assert!(from_shards.lists.iter().all(|l| l.duplicates == 0));
}

/// A GBK file from a Chinese Excel with a semicolon list separator (no byte-order mark): a
/// quoted cell over two lines, Excel's numbers, rows the reader refuses and a phone too short.
const SAME_FILE: &str = "手机号;姓名;备注\r\n\
    1.3012121211E+10;张三;\"两行\r\n备注\"\r\n\
    '13012121212;李四;\r\n\
    1.30121E+10;王五;\r\n\
    ;赵六;\r\n\
    13012121213;钱七\r\n\
    130;周九;\r\n\
    13012121214;孙八;x\r\n";

/// `callsync validate -f DIR` on a ContactList whose source is `bytes` in a ConfigMap's
/// `binaryData` (where `kubectl create configmap --from-file` puts a file that is not UTF-8).
fn validate_source(bytes: &[u8]) -> Run {
    use base64::Engine;
    let dir = tempfile::tempdir().expect("tempdir");
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    let objects = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: t\n  labels:\n    callsync.io/credentials: \"true\"\nstringData:\n  token: x\n\
         ---\napiVersion: callsync.io/v1alpha1\nkind: CallProvider\nmetadata:\n  name: p\nspec:\n  longlonglong:\n    userId: u\n    tokenSecretRef: {{name: t, key: token}}\n\
         ---\napiVersion: callsync.io/v1alpha1\nkind: CallTask\nmetadata:\n  name: c\nspec:\n  providerRef: {{name: p}}\n  taskId: \"1\"\n  contactLists:\n    names: [people]\n\
         ---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: people-csv\nbinaryData:\n  contacts.csv: {b64}\n\
         ---\napiVersion: callsync.io/v1alpha1\nkind: ContactList\nmetadata:\n  name: people\nspec:\n  defaultRegion: CN\n  source:\n    configMapRef: {{name: people-csv, key: contacts.csv}}\n"
    );
    std::fs::write(dir.path().join("objects.yaml"), objects).expect("write objects");
    let output = Command::new(env!("CARGO_BIN_EXE_callsync"))
        .args(["validate", "-f"])
        .arg(dir.path())
        .stdin(Stdio::null())
        .output()
        .expect("run callsync validate");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

#[test]
fn a_file_gives_the_same_contacts_through_import_and_as_a_contact_list_source() {
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(SAME_FILE);
    assert!(!unmappable && std::str::from_utf8(&bytes).is_err());
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("same.csv");
    std::fs::write(&path, &bytes).expect("write");
    let run = import_ok(&[path.to_str().expect("path")]);
    assert!(
        run.stderr
            .contains("GB18030, delimiter ';', header on line 1"),
        "{}",
        run.stderr
    );
    let imported = contacts(&lists(&run.stdout));
    let from_import = DesiredSet::build(&[ListInput {
        name: "import",
        default_region: Some("CN"),
        contacts: ListContacts::Inline(&imported),
    }]);
    let parsed = parse_csv_bytes(&bytes).expect("the ContactList reader takes the GBK file");
    let from_source = DesiredSet::build(&[ListInput {
        name: "import",
        default_region: Some("CN"),
        contacts: ListContacts::Csv(&parsed),
    }]);
    assert_eq!(from_import.len(), 3, "{}", run.stderr);
    assert!(from_source.contacts().eq(from_import.contacts()));
    assert_eq!(from_source.digest, from_import.digest);
    assert_eq!(
        imported[0].phone, "+8613012121211",
        "Excel's 1.3012121211E+10"
    );
    assert_eq!(imported[1].phone, "+8613012121212", "Excel's '13012121212");
    assert_eq!(var(&imported[0], "备注"), Some("两行\r\n备注"));

    // The same rows are left out, on the same lines; what the reader refuses, in the same words.
    let reports = row_reports(&run.stderr);
    let import_lines: Vec<u64> = reports
        .iter()
        .map(|l| {
            l["line ".len()..]
                .split(':')
                .next()
                .expect("N")
                .parse()
                .expect("line")
        })
        .collect();
    let source_lines: Vec<u64> = from_source.lists[0]
        .invalid_sample
        .iter()
        .map(|e| e.index as u64)
        .collect();
    assert_eq!(import_lines, vec![5, 6, 7, 8]);
    assert_eq!(source_lines, import_lines);
    let reader_says: Vec<String> = parsed
        .errors
        .iter()
        .map(|e| format!("line {}: {}", e.line, e.reason()))
        .collect();
    assert_eq!(
        reader_says,
        [
            "line 6: phone is empty",
            "line 7: expected 3 fields, found 2"
        ]
    );
    for said in &reader_says {
        assert!(reports.contains(&said.as_str()), "{said:?} in {reports:?}");
    }

    // `callsync validate` reads the bytes from binaryData the same way: warnings on the same
    // lines, no error.
    let validated = validate_source(&bytes);
    assert_eq!(validated.code, Some(0), "{}", validated.stderr);
    for line in import_lines {
        assert!(
            validated.stderr.contains(&format!("CSV line {line}: ")),
            "line {line} in {}",
            validated.stderr
        );
    }
    for said in &reader_says {
        assert!(
            validated.stderr.contains(&format!("CSV {said}")),
            "{}",
            validated.stderr
        );
    }
    assert!(
        !validated.stderr.contains("13012121213"),
        "{}",
        validated.stderr
    );
}

#[test]
fn a_file_is_refused_with_the_same_words_through_import_and_as_a_contact_list_source() {
    let gbk = |text: &str| encoding_rs::GBK.encode(text).0.into_owned();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "stray quote",
            gbk(
                "手机号;姓名\r\n13012121211;\"张三\r\n13012121212;李四\r\n13012121213;\"王五\"\r\n",
            ),
            "CSV line 2, column 13: the quoted field opened here ends on line 4, column 13, and text follows it",
        ),
        (
            "quote never closed",
            gbk("手机号;姓名\r\n13012121211;\"张三\r\n"),
            "CSV line 2, column 13: the quoted field opened here is never closed",
        ),
        (
            "undecodable",
            b"phone\n13012121211\n\xff\xfe\xff\n".to_vec(),
            "CSV line 3: the bytes are not valid GB18030",
        ),
        (
            "no header",
            b"\r\n\r\n".to_vec(),
            "the CSV has no header row",
        ),
        (
            "no phone column",
            gbk("姓名;地址\r\n张三;北京\r\n"),
            "no phone column among the headers (姓名, 地址)",
        ),
        (
            "no header row: the first row is data",
            gbk("13012121211;张三\r\n"),
            "no phone column among the headers (130****1211, 张三)",
        ),
        (
            "duplicate header",
            gbk("手机号;城市;City;城市\r\n"),
            "the header names \"城市\" twice (columns 2 and 4)",
        ),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    for (what, bytes, expected) in cases {
        let shared = parse_csv_bytes(&bytes).expect_err(what).to_string();
        assert!(shared.starts_with(expected), "{what}: {shared}");
        let path = dir.path().join("refused.csv");
        std::fs::write(&path, &bytes).expect("write");
        let run = callsync(&[path.to_str().expect("path"), "--name", "x"], None);
        assert_eq!(run.code, Some(1), "{what}: {}", run.stderr);
        assert!(
            run.stderr.starts_with(&format!("error: {shared}")),
            "{what}: {:?} does not start with {shared:?}",
            run.stderr
        );
        let validated = validate_source(&bytes);
        assert_eq!(validated.code, Some(1), "{what}: {}", validated.stderr);
        assert!(
            validated.stderr.contains(&format!(
                "ConfigMap \"people-csv\" key \"contacts.csv\" is not readable CSV: {shared}"
            )),
            "{what}: {}",
            validated.stderr
        );
        assert!(!run.stderr.contains("13012121211"), "{}", run.stderr);
        assert!(
            !validated.stderr.contains("13012121211"),
            "{}",
            validated.stderr
        );
    }
}

#[test]
fn errors_are_one_line_for_people() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).expect("write");
        p.display().to_string()
    };
    let good = fixture("customers-utf8-bom.csv");
    let undecodable = path("bytes.csv", b"phone\n13012121211\n\xff\xfe\xff\n");
    let empty = path("empty.csv", b"\n\n");
    let dup = path("dup.csv", "phone,城市,城市\n".as_bytes());
    let no_phone = fixture("no-phone.csv");
    let unnamed = path("名单.csv", b"phone\n13012121211\n");
    let missing = dir.path().join("missing.csv").display().to_string();
    let folder = dir.path().display().to_string();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec![&missing, "--name", "x"], "cannot read "),
        (vec![&folder, "--name", "x"], "cannot read "),
        (
            vec![&undecodable, "--name", "x"],
            "line 3: the bytes are not valid GB18030",
        ),
        (vec![&empty, "--name", "x"], "the CSV has no header row"),
        (
            vec![&dup, "--name", "x"],
            "the header names \"城市\" twice (columns 2 and 3)",
        ),
        (
            vec![&no_phone],
            "no phone column among the headers (姓名, 地址); name it with --map phone=<header>",
        ),
        (
            vec![&good, "--name", "x", "--map", "mobile=手机号"],
            "--map: \"mobile\" is not a field; the fields are phone, name, company, email and extra",
        ),
        (
            vec![&good, "--name", "x", "--map", "phone=手机"],
            "--map phone=手机: no such column among the headers (姓名, 手机号, 公司, 城市, 备注)",
        ),
        (
            vec![&good, "--name", "x", "--labels", "team"],
            "--labels \"team\": expected key=value",
        ),
        (
            vec![&good, "--name", "x", "--labels", "a b=c"],
            "--labels \"a b=c\": key must be",
        ),
        (
            vec![&good, "--name", "Customers"],
            "--name \"Customers\" may hold only lower-case",
        ),
        (
            vec![&good, "--name", "x", "--namespace", "Sales"],
            "--namespace \"Sales\" may hold",
        ),
        (
            vec![&good, "--name", "x", "--default-region", "XX"],
            "--default-region \"XX\" is not",
        ),
        (
            vec![&good, "--name", "x", "--encoding", "klingon"],
            "--encoding \"klingon\" is not",
        ),
        (
            vec![&good, "--name", "x", "--delimiter", "ab"],
            "--delimiter \"ab\" is not one",
        ),
        (
            vec![&unnamed],
            "cannot make a ContactList name from the file name \"名单.csv\"; pass --name",
        ),
    ];
    for (args, expected) in cases {
        let run = callsync(&args, None);
        assert_eq!(run.code, Some(1), "{args:?}: {}", run.stderr);
        assert_eq!(run.stdout, "", "{args:?}");
        let last = run.stderr.lines().last().unwrap_or_default();
        assert!(last.starts_with("error: "), "{args:?}: {}", run.stderr);
        assert!(
            last.contains(expected),
            "{args:?}: expected {expected:?} in {last:?}"
        );
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        let error_lines = run
            .stderr
            .lines()
            .filter(|l| l.starts_with("error"))
            .count();
        assert_eq!(error_lines, 1, "{args:?}: {}", run.stderr);
    }
    // Flags clap checks itself: one line naming the flag, exit 1 like every error (exit 2 is
    // `plan --detailed-exitcode`'s "changes planned").
    let run = callsync(&[&good, "--name", "x", "--shard-size", "5001"], None);
    assert_eq!(run.code, Some(1));
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("5001 is not in 1..=5000") && run.stderr.contains("--shard-size"),
        "{}",
        run.stderr
    );
}

/// Rows whose values a YAML 1.1 reader (kubectl) would turn into bools, numbers or dates,
/// and a header (`on`) that would become a bool key.
fn tricky_csv(n: u64) -> String {
    let odd = [
        "yes",
        "on",
        "0123",
        "1:20",
        "2024-01-01",
        "~",
        "null",
        "- x",
        "#x",
        "a: b",
        "'q'",
        "tab\there",
        "🙂 emoji",
        "l\u{2028}s",
    ];
    let mut text = String::from("phone,name,on,note\n");
    for i in 0..n {
        let v = odd[(i as usize) % odd.len()];
        text.push_str(&format!("130{i:08},\"{v}\",{},\"{v}\"\n", i % 2));
    }
    text
}

#[tokio::test]
async fn shards_are_accepted_by_kubectl_apply_server_side() {
    let cp = support::control_plane();
    let (client, ns) = cp.test_namespace("import").await;
    let kubectl = cp
        .kubectl()
        .expect("kubectl is built by scripts/build-controlplane.sh");
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = dir.path().join("odd.csv");
    std::fs::write(&csv, tricky_csv(9000)).expect("write csv");
    let out = dir.path().join("lists");
    let (csv_arg, out_arg) = (csv.to_str().expect("path"), out.to_str().expect("path"));
    // 5000 a shard: the CRD's maxItems exactly.
    import_ok(&[
        csv_arg,
        "--out",
        out_arg,
        "--namespace",
        &ns,
        "--shard-size",
        "5000",
    ]);
    let local = lists_in(&out);
    assert_eq!(local["odd-001.yaml"].spec.contacts.len(), 5000);

    let apply = || {
        let output = Command::new(&kubectl)
            .arg("--kubeconfig")
            .arg(&cp.kubeconfig)
            .args(["apply", "--server-side", "-f"])
            .arg(&out)
            .output()
            .expect("run kubectl");
        assert!(
            output.status.success(),
            "kubectl apply --server-side refused the shards: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let first = apply();
    assert!(
        first.contains("contactlist.callsync.io/odd-001 serverside-applied"),
        "{first}"
    );
    assert!(
        first.contains("contactlist.callsync.io/odd-002 serverside-applied"),
        "{first}"
    );

    let api: Api<ContactList> = Api::namespaced(client, &ns);
    let params = ListParams::default().labels("callsync.io/list=odd");
    let stored = api.list(&params).await.expect("list ContactLists");
    assert_eq!(stored.items.len(), 2);
    for list in &stored.items {
        let file = format!("{}.yaml", list.metadata.name.clone().expect("name"));
        assert_eq!(
            list.spec, local[&file].spec,
            "{file} round-trips through the apiserver"
        );
    }
    let c = &stored.items[0].spec.contacts;
    assert_eq!(c[0].name.as_deref(), Some("yes"));
    assert_eq!(var(&c[0], "on"), Some("0"));
    assert_eq!(c[2].name.as_deref(), Some("0123"));
    assert_eq!(c[4].name.as_deref(), Some("2024-01-01"));
    assert_eq!(c[13].name.as_deref(), Some("l\u{2028}s"));

    // Import and apply again: the same bytes, so the server changes nothing.
    let versions: Vec<Option<String>> = stored
        .items
        .iter()
        .map(|l| l.metadata.resource_version.clone())
        .collect();
    import_ok(&[
        csv_arg,
        "--out",
        out_arg,
        "--namespace",
        &ns,
        "--shard-size",
        "5000",
    ]);
    for (file, list) in lists_in(&out) {
        assert_eq!(
            list.spec, local[&file].spec,
            "{file}: a re-import gives the same shard"
        );
    }
    apply();
    let again = api.list(&params).await.expect("list ContactLists");
    let after: Vec<Option<String>> = again
        .items
        .iter()
        .map(|l| l.metadata.resource_version.clone())
        .collect();
    assert_eq!(after, versions, "a re-import applies as no change");
}
