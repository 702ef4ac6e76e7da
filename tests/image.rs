//! The container image, built here (scripts/build-image.sh: a static binary on `FROM scratch`
//! with podman) and checked without a container runtime, which these machines lack: its config
//! (user, entrypoint, OCI labels) from `podman inspect`, then its root unpacked (`podman create` +
//! `podman export`) and the binary run from it with `chroot --userspec=65532:65532`, with nothing
//! from the host mounted in: no libc, no loader, no /dev (`callsync version`); then, with only
//! what a runtime adds (/etc/hosts, /dev/random, /dev/urandom), a name resolved and a connection
//! tried (`callsync doctor`). The user-facing Dockerfile is checked to describe the same image.
//!
//! Building needs root (podman, chroot): without root the build test prints why it skips. CI
//! runs as root and `make test` installs podman first (scripts/install-podman.sh). Cold, it
//! builds every dependency once more for the static target (docs/development.md has the time);
//! later runs reuse cargo's build and take seconds.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const TAG: &str = "localhost/callsync:image-test";
const BINARY: &str = "/usr/local/bin/callsync";
const LABELS: [&str; 4] = [
    "org.opencontainers.image.version",
    "org.opencontainers.image.revision",
    "org.opencontainers.image.source",
    "org.opencontainers.image.created",
];

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(command: &mut Command) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n--- stdout\n{}--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// The git commit the script builds from (HEAD), unless the caller fixed another one.
fn expected_commit() -> Option<String> {
    if std::env::var_os("CALLSYNC_GIT_COMMIT").is_some() {
        return None;
    }
    let out = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(repo_root())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// True when the ELF file has a PT_INTERP program header (it asks for a dynamic loader).
fn has_interpreter(elf: &[u8]) -> bool {
    assert!(
        elf.len() > 64 && elf.starts_with(b"\x7fELF"),
        "not an ELF file"
    );
    assert_eq!(elf[4], 2, "64-bit ELF");
    assert_eq!(elf[5], 1, "little-endian ELF");
    let u16_at = |at: usize| u16::from_le_bytes([elf[at], elf[at + 1]]) as usize;
    let u32_at = |at: usize| u32::from_le_bytes(elf[at..at + 4].try_into().expect("4 bytes"));
    let u64_at = |at: usize| u64::from_le_bytes(elf[at..at + 8].try_into().expect("8 bytes"));
    let phoff = usize::try_from(u64_at(0x20)).expect("phoff");
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    const PT_INTERP: u32 = 3;
    (0..phnum).any(|i| u32_at(phoff + i * phentsize) == PT_INTERP)
}

/// Every path in `root`, relative, with `/` for the root itself left out.
fn tree(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            let relative = path.strip_prefix(root).expect("under root");
            out.push(format!("/{}", relative.display()));
            if path.is_dir() && !path.is_symlink() {
                walk(root, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

#[test]
fn the_image_builds_and_its_binary_runs_as_65532_from_the_bare_root() {
    if !is_root() {
        eprintln!(
            "SKIPPED: tests/image.rs needs root (podman build, chroot) and this test runs as uid \
             {}; CI runs as root",
            stdout(&run(Command::new("id").arg("-u")))
        );
        return;
    }
    let root = repo_root();
    run(&mut Command::new(root.join("scripts/install-podman.sh")));
    let built = run(Command::new(root.join("scripts/build-image.sh")).args([
        "--profile",
        "image-test",
        "--tag",
        TAG,
    ]));
    assert_eq!(
        stdout(&built).lines().last(),
        Some(TAG),
        "the script prints the tag"
    );

    // The image's config.
    let inspect: Value =
        serde_json::from_slice(&run(Command::new("podman").args(["image", "inspect", TAG])).stdout)
            .expect("podman image inspect prints JSON");
    let config = &inspect[0]["Config"];
    assert_eq!(config["User"], "65532:65532", "{config:#}");
    assert_eq!(
        config["Entrypoint"],
        serde_json::json!([BINARY]),
        "{config:#}"
    );
    assert_eq!(
        config["Cmd"],
        serde_json::json!(["controller"]),
        "{config:#}"
    );
    let labels: BTreeMap<String, String> =
        serde_json::from_value(config["Labels"].clone()).expect("labels");
    for label in LABELS {
        assert!(
            labels.get(label).is_some_and(|v| !v.is_empty()),
            "label {label}: {labels:?}"
        );
    }
    // The script fixes the date (SOURCE_DATE_EPOCH) whether or not git is there.
    assert_ne!(labels["org.opencontainers.image.created"], "unknown");
    assert_eq!(
        labels["org.opencontainers.image.version"],
        env!("CARGO_PKG_VERSION")
    );

    // Its root, as a container runtime would unpack it.
    let work = root.join("target/image-test");
    let rootfs = work.join("root");
    let tar = work.join("root.tar");
    if rootfs.exists() {
        std::fs::remove_dir_all(&rootfs).expect("remove the last root");
    }
    std::fs::create_dir_all(&rootfs).expect("mkdir target/image-test/root");
    let container = stdout(&run(Command::new("podman").args(["create", TAG])));
    let exported = Command::new("podman")
        .args(["export", "-o"])
        .arg(&tar)
        .arg(&container)
        .output();
    run(Command::new("podman").args(["rm", "--force", &container]));
    let exported = exported.expect("run podman export");
    assert!(
        exported.status.success(),
        "podman export: {}",
        String::from_utf8_lossy(&exported.stderr)
    );
    run(Command::new("tar")
        .arg("-xf")
        .arg(&tar)
        .arg("-C")
        .arg(&rootfs));

    let files = tree(&rootfs);
    for wanted in [
        BINARY,
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/passwd",
        "/etc/group",
    ] {
        assert!(
            files.iter().any(|f| f == wanted),
            "no {wanted} in {files:?}"
        );
    }
    // Nothing to link against: the binary brings everything.
    for dir in ["/lib", "/lib64", "/usr/lib", "/usr/lib64"] {
        assert!(
            !rootfs.join(&dir[1..]).exists(),
            "{dir} in the image: {files:?}"
        );
    }
    let elf = std::fs::read(rootfs.join(&BINARY[1..])).expect("read the binary");
    assert!(
        !has_interpreter(&elf),
        "{BINARY} asks for a dynamic loader: not static"
    );
    let passwd = std::fs::read_to_string(rootfs.join("etc/passwd")).expect("passwd");
    assert!(
        passwd
            .lines()
            .any(|l| l.starts_with("nonroot:x:65532:65532:")),
        "{passwd}"
    );
    let certs = std::fs::read_to_string(rootfs.join("etc/ssl/certs/ca-certificates.crt"))
        .expect("CA bundle");
    assert!(
        certs.matches("BEGIN CERTIFICATE").count() > 10,
        "a CA bundle"
    );

    // The binary, run from that root as the image's user, with nothing from the host.
    let version = run(Command::new("chroot")
        .arg("--userspec=65532:65532")
        .arg(&rootfs)
        .args([BINARY, "version", "-o", "json"])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"));
    let info: Value = serde_json::from_slice(&version.stdout).expect("version -o json");
    assert_eq!(info["version"], env!("CARGO_PKG_VERSION"), "{info}");
    assert_eq!(info["platform"], "x86_64-unknown-linux-gnu", "{info}");
    assert_eq!(
        info["gitCommit"], labels["org.opencontainers.image.revision"],
        "the revision label is the binary's commit"
    );
    assert_eq!(
        info["buildDate"], labels["org.opencontainers.image.created"],
        "the created label is the binary's build date"
    );
    if let Some(head) = expected_commit() {
        assert_eq!(info["gitCommit"], head.as_str(), "built from HEAD");
    }

    resolves_names_and_connects_from_the_root(&rootfs);
}

/// What a container runtime adds to the root (an /etc/hosts, /dev/random and /dev/urandom; no
/// library) is enough for the static binary to resolve a name and open a connection: glibc's
/// `files` and `dns` lookups are built into the static libc. `callsync doctor` against a name
/// in /etc/hosts for 127.0.0.1 and a closed port must fail on "Connection refused", not on the
/// lookup.
fn resolves_names_and_connects_from_the_root(rootfs: &Path) {
    std::fs::create_dir_all(rootfs.join("dev")).expect("mkdir dev");
    for (name, minor) in [("random", "8"), ("urandom", "9")] {
        run(Command::new("mknod")
            .arg(rootfs.join("dev").join(name))
            .args(["c", "1", minor]));
    }
    std::fs::write(rootfs.join("etc/hosts"), "127.0.0.1 provider.test\n").expect("hosts");
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let files = rootfs.join("quickstart");
    std::fs::create_dir_all(&files).expect("mkdir quickstart");
    for entry in std::fs::read_dir(repo_root().join("examples/quickstart")).expect("quickstart") {
        let path = entry.expect("entry").path();
        let mut text = std::fs::read_to_string(&path).expect("read");
        if path.ends_with("provider.yaml") {
            text = text
                .replace(
                    "endpoint: https://ai.api.longlonglong.cn",
                    &format!("endpoint: http://provider.test:{closed_port}"),
                )
                .replacen("\nspec:\n", "\nspec:\n  insecure: true\n", 1);
            assert!(
                text.contains("provider.test"),
                "the quick start's endpoint moved"
            );
        }
        std::fs::write(files.join(path.file_name().expect("name")), text).expect("write");
    }
    let doctor = Command::new("chroot")
        .arg("--userspec=65532:65532")
        .arg(rootfs)
        .args([BINARY, "doctor", "-f", "/quickstart"])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .output()
        .expect("run doctor");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&doctor.stdout),
        String::from_utf8_lossy(&doctor.stderr)
    );
    assert!(!all.contains("panicked"), "{all}");
    assert!(
        all.contains(&format!("http://provider.test:{closed_port}"))
            && all.contains("Connection refused"),
        "the name resolved and the connection was tried: {all}"
    );
}

/// The instructions of a Containerfile's last stage that define the running image: LABEL keys,
/// USER, ENTRYPOINT, CMD and the COPY destinations.
fn final_stage(path: &Path) -> BTreeMap<&'static str, Vec<String>> {
    let text = std::fs::read_to_string(path).expect("read");
    // Join continuation lines, drop comments.
    let mut lines = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || trimmed.is_empty() {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(part) => current.push_str(part),
            None => {
                current.push_str(trimmed);
                lines.push(std::mem::take(&mut current));
            }
        }
    }
    let start = lines
        .iter()
        .rposition(|l| l.starts_with("FROM "))
        .expect("a FROM");
    let mut out: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    out.insert("FROM", vec![lines[start].clone()]);
    let label_key = regex::Regex::new(r#"([a-z0-9.]+)="#).expect("regex");
    for line in &lines[start + 1..] {
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        let rest = rest.trim();
        match word {
            "LABEL" => out.entry("LABEL").or_default().extend(
                label_key
                    .captures_iter(rest)
                    .map(|c| c[1].to_owned())
                    .collect::<Vec<_>>(),
            ),
            "USER" | "ENTRYPOINT" | "CMD" => {
                let key = match word {
                    "USER" => "USER",
                    "ENTRYPOINT" => "ENTRYPOINT",
                    _ => "CMD",
                };
                out.insert(key, vec![rest.to_owned()]);
            }
            "COPY" => {
                let destination = rest.split_whitespace().last().expect("destination");
                out.entry("COPY").or_default().push(destination.to_owned());
            }
            _ => {}
        }
    }
    for values in out.values_mut() {
        values.sort();
    }
    out
}

#[test]
fn the_dockerfile_describes_the_same_image_as_the_tested_containerfile() {
    let tested = final_stage(&repo_root().join("packaging/Containerfile"));
    let published = final_stage(&repo_root().join("Dockerfile"));
    for key in ["LABEL", "USER", "ENTRYPOINT", "CMD", "COPY", "FROM"] {
        assert_eq!(tested.get(key), published.get(key), "{key} differs");
    }
    for label in LABELS {
        assert!(
            tested["LABEL"].iter().any(|l| l == label),
            "{label} is not set"
        );
    }
    assert_eq!(tested["USER"], ["65532:65532"]);
    assert_eq!(tested["ENTRYPOINT"], [format!("[\"{BINARY}\"]")]);
}
