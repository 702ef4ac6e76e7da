//! Bad input the API server accepts and the controller must handle: each case is a CallTask
//! (its own remote task at the simulator) with the objects it reads, and what a person must
//! see — the CallTask's Ready reason and message, ContactList status, an Event — and which
//! valid contacts reach the provider anyway.
use serde_json::{Value, json};

/// Where a case's CSV bytes live.
#[derive(Clone, Copy)]
pub enum Store {
    Secret,
    ConfigMap,
    /// ConfigMap `binaryData` (what `kubectl create configmap --from-file` makes of a non-UTF-8 file).
    ConfigMapBinary,
}

/// A Secret or ConfigMap holding CSV for a case.
pub struct Source {
    pub store: Store,
    pub name: &'static str,
    pub key: &'static str,
    /// A file under tests/fixtures/bad_input/.
    pub fixture: &'static str,
}

/// What a ContactList's status must say.
pub struct ListExpect {
    pub list: String,
    pub invalid: i64,
    pub duplicates: i64,
    /// (index or CSV line, reason substring) of invalid_sample entries.
    pub sample: Vec<(i64, &'static str)>,
    /// Ready condition: (status, reason, message substring).
    pub ready: (&'static str, &'static str, &'static str),
}

pub struct Case {
    pub name: &'static str,
    /// Name of the CallProvider the task uses (`acct` is the good shared one).
    pub provider: &'static str,
    pub task_id: String,
    /// ContactLists (with label `case: <name>`), as (name, spec).
    pub lists: Vec<(String, Value)>,
    /// Extra objects (CallProviders, Secrets, ConfigMaps in this namespace).
    pub objects: Vec<Value>,
    pub sources: Vec<Source>,
    /// The task selects lists with this (overrides the default `case` label selector).
    pub selector: Option<Value>,
    /// `spec.contactLists.names` of the task, besides its selector.
    pub names: Option<Value>,
    pub reason: &'static str,
    pub message: Vec<&'static str>,
    pub lists_expect: Vec<ListExpect>,
    /// Wire phones (national) the provider must hold exactly, when the task reaches it.
    pub synced: Option<Vec<&'static str>>,
    /// (Event reason, note substring) about the task.
    pub event: Option<(&'static str, &'static str)>,
    /// Failures in status.failures: reason substrings.
    pub failures: Vec<&'static str>,
}

impl Case {
    fn new(name: &'static str, reason: &'static str) -> Case {
        Case {
            name,
            provider: "acct",
            task_id: format!("t-{name}"),
            lists: Vec::new(),
            objects: Vec::new(),
            sources: Vec::new(),
            selector: None,
            names: None,
            reason,
            message: Vec::new(),
            lists_expect: Vec::new(),
            synced: None,
            event: None,
            failures: Vec::new(),
        }
    }

    fn list(mut self, suffix: &str, spec: Value) -> Self {
        self.lists.push((format!("{}-{suffix}", self.name), spec));
        self
    }

    fn expect_list(
        mut self,
        suffix: &str,
        invalid: i64,
        duplicates: i64,
        sample: Vec<(i64, &'static str)>,
        ready: (&'static str, &'static str, &'static str),
    ) -> Self {
        self.lists_expect.push(ListExpect {
            list: format!("{}-{suffix}", self.name),
            invalid,
            duplicates,
            sample,
            ready,
        });
        self
    }

    fn csv(
        mut self,
        store: Store,
        name: &'static str,
        key: &'static str,
        fixture: &'static str,
    ) -> Self {
        self.sources.push(Source {
            store,
            name,
            key,
            fixture,
        });
        self
    }

    fn with_objects(mut self, objects: Vec<Value>) -> Self {
        self.objects.extend(objects);
        self
    }

    fn message(mut self, parts: &[&'static str]) -> Self {
        self.message.extend_from_slice(parts);
        self
    }

    fn synced(mut self, phones: &[&'static str]) -> Self {
        self.synced = Some(phones.to_vec());
        self
    }
}

/// Malformed phones, one per contact, with the reason the ContactList status must give.
pub const MALFORMED: &[(&str, &str)] = &[
    ("139abc00001", "unexpected character 'a'"),
    ("13900", "too short for CN"),
    ("1390000000123", "too long for CN"),
    ("１３９ＡＢＣ", "unexpected character 'Ａ'"),
    ("   ", "not a number"),
    ("+", "not a number"),
    ("1.39E+10", "spreadsheet scientific notation lost digits"),
    ("+999 1234 5678", "country code 999 unknown"),
    ("139 0000 0001 x12", "unexpected character 'x'"),
    ("张伟 13900000001", "unexpected character '张'"),
    // `00` is the international prefix: what follows must start with a country code.
    ("0000000000", "country code 000 unknown"),
    ("13900000001;ext=2", "unexpected character ';'"),
    ("+86 139 0000 0001 0", "too long"),
    ("tel:", "not a number"),
];

/// Valid numbers written the ways people and spreadsheets write them, all accepted.
pub const WELL_FORMED: &[(&str, &str)] = &[
    ("13900000101", "13900000101"),
    ("+86 139-0000-0102", "13900000102"),
    ("'13900000103", "13900000103"),
    ("1.3900000104E10", "13900000104"),
    ("１３９００００01０5", "13900000105"),
    ("0086 139 0000 0106", "13900000106"),
    ("(139) 0000.0107", "13900000107"),
];

fn contacts(phones: &[&str]) -> Value {
    Value::Array(
        phones
            .iter()
            .map(|p| json!({"phone": p, "name": "客户"}))
            .collect(),
    )
}

fn cn(phones: &[&str]) -> Value {
    json!({"defaultRegion": "CN", "contacts": contacts(phones)})
}

/// A Secret opted in as CallProvider credentials (`callsync.io/credentials: "true"`).
fn secret(name: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "stringData": data,
           "metadata": {"name": name, "labels": {"callsync.io/credentials": "true"}}})
}

/// A Secret that opted in to nothing.
fn unlabelled_secret(name: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": data})
}

fn lll_provider(name: &str, endpoint: &str, secret: &str, key: &str) -> Value {
    lll_provider_of(name, endpoint, super::sim::LLL_USER, secret, key)
}

fn lll_provider_of(name: &str, endpoint: &str, user: &str, secret: &str, key: &str) -> Value {
    json!({"apiVersion": "callsync.io/v1alpha1", "kind": "CallProvider",
           "metadata": {"name": name},
           "spec": {"insecure": true, "longlonglong": {"endpoint": endpoint, "userId": user,
                                     "tokenSecretRef": {"name": secret, "key": key}},
                    "rateLimit": {"requestsPerSecond": 1000, "burst": 1000}}})
}

/// The table. `endpoint` is the simulator's base URL.
pub fn cases(endpoint: &str) -> Vec<Case> {
    let malformed: Vec<&str> = MALFORMED.iter().map(|(p, _)| *p).collect();
    let well: Vec<&str> = WELL_FORMED.iter().map(|(p, _)| *p).collect();
    let mut mixed: Vec<&str> = Vec::new();
    for (i, w) in well.iter().enumerate() {
        mixed.push(w);
        if let Some(m) = malformed.get(i * 2) {
            mixed.push(m);
        }
        if let Some(m) = malformed.get(i * 2 + 1) {
            mixed.push(m);
        }
    }
    let sample: Vec<(i64, &'static str)> = mixed
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            MALFORMED
                .iter()
                .find(|(m, _)| m == p)
                .map(|(_, reason)| (i as i64, *reason))
        })
        .collect();
    let wire: Vec<&'static str> = WELL_FORMED.iter().map(|(_, w)| *w).collect();
    vec![
        Case::new("phones", "InvalidContacts")
            .list("mixed", cn(&mixed))
            .expect_list("mixed", MALFORMED.len() as i64, 0, sample, ("True", "ContactsRead", "7 valid contacts, 14 invalid entries"))
            .message(&["7 contacts in sync", "14 invalid or refused contacts are left out"])
            .synced(&wire),
        Case::new("no-region", "InvalidContacts")
            .list("a", json!({"contacts": contacts(&["13900000201", "+8613900000202"])}))
            .expect_list("a", 1, 0, vec![(0, "has no country code and no defaultRegion is set")], ("True", "ContactsRead", "1 valid"))
            .synced(&["13900000202"]),
        Case::new("unknown-region", "InvalidContacts")
            .list("a", json!({"defaultRegion": "ZZ", "contacts": contacts(&["13900000211", "+8613900000212"])}))
            .expect_list("a", 1, 0, vec![(0, "defaultRegion \"ZZ\" unknown")], ("True", "ContactsRead", "1 valid"))
            .synced(&["13900000212"]),
        Case::new("wrong-country", "InvalidContacts")
            .list("us", json!({"defaultRegion": "US", "contacts": contacts(&["13900000221", "2025550123"])}))
            .list("cn", cn(&["13900000222"]))
            .expect_list("us", 1, 0, vec![(0, "139****0221 is not a valid number for +1")], ("True", "ContactsRead", "1 valid"))
            // +1 202… is valid, but this longlonglong account writes CN national numbers.
            .message(&["1 contacts in sync; 2 invalid or refused"])
            .synced(&["13900000222"]),
        Case {
            failures: vec!["outside region CN"],
            ..Case::new("outside-account-region", "InvalidContacts")
                .list("a", cn(&["+12025550124", "13900000231"]))
                .synced(&["13900000231"])
        },
        Case::new("duplicates", "InSync")
            .list("a", cn(&["13900000301", "+8613900000301", "8613900000301", "13900000302", "13900000302"]))
            .expect_list("a", 0, 3, vec![], ("True", "ContactsRead", "2 valid contacts, 0 invalid entries, 3 duplicates"))
            .message(&["2 contacts in sync"])
            .synced(&["13900000301", "13900000302"]),
        Case {
            event: Some(("ConflictingContacts", "+86139****0311 in conflicts-a and conflicts-b (conflicts-a wins)")),
            ..Case::new("conflicts", "InSync")
                .list("a", json!({"defaultRegion": "CN", "contacts": [{"phone": "13900000311", "name": "Alice"}]}))
                .list("b", json!({"defaultRegion": "CN", "contacts": [{"phone": "+8613900000311", "name": "Bob"},
                                                                      {"phone": "13900000312", "name": "Carol"}]}))
                .message(&["2 contacts in sync", "1 phones are given with different content"])
                .synced(&["13900000311", "13900000312"])
        },
        Case {
            event: Some(("ConflictingContacts", "twice in ContactList conflict-in-list-a (first entry wins)")),
            ..Case::new("conflict-in-list", "InSync")
                .list("a", json!({"defaultRegion": "CN", "contacts": [{"phone": "13900000321", "name": "Dan"},
                                                                      {"phone": "13900000321", "name": "Eve"}]}))
                .expect_list("a", 0, 1, vec![], ("True", "ContactsRead", "1 valid contacts"))
                .synced(&["13900000321"])
        },
        Case::new("only-invalid", "InvalidContacts")
            .list("a", cn(&["abc", "123"]))
            .expect_list("a", 2, 0, vec![(0, "unexpected character 'a'"), (1, "*** is not a valid number for CN")], ("True", "ContactsRead", "0 valid"))
            .message(&["0 contacts in sync"])
            .synced(&[]),
        // CSV sources.
        Case::new("csv-secret-missing", "ContactListUnreadable")
            .list("a", json!({"source": {"secretRef": {"name": "no-such-secret", "key": "contacts.csv"}}}))
            .expect_list("a", 0, 0, vec![], ("False", "SourceUnreadable", "Secret no-such-secret not found"))
            .message(&["ContactList csv-secret-missing-a: Secret no-such-secret not found"]),
        Case::new("csv-secret-key-missing", "ContactListUnreadable")
            .list("a", json!({"source": {"secretRef": {"name": "csv-gbk", "key": "nope.csv"}}}))
            .csv(Store::Secret, "csv-gbk", "contacts.csv", "gbk.csv")
            .expect_list("a", 0, 0, vec![], ("False", "SourceUnreadable", "Secret csv-gbk has no key nope.csv"))
            .message(&["Secret csv-gbk has no key nope.csv"]),
        Case::new("csv-configmap-missing", "ContactListUnreadable")
            .list("a", json!({"source": {"configMapRef": {"name": "no-such-map", "key": "contacts.csv"}}}))
            .expect_list("a", 0, 0, vec![], ("False", "SourceUnreadable", "ConfigMap no-such-map not found"))
            .message(&["ConfigMap no-such-map not found"]),
        Case::new("csv-configmap-key-missing", "ContactListUnreadable")
            .list("a", json!({"source": {"configMapRef": {"name": "csv-quote", "key": "nope.csv"}}}))
            .csv(Store::ConfigMap, "csv-quote", "contacts.csv", "truncated-quote.csv")
            .expect_list("a", 0, 0, vec![], ("False", "SourceUnreadable", "ConfigMap csv-quote has no key nope.csv"))
            .message(&["ConfigMap csv-quote has no key nope.csv"]),
        // Bytes are decoded as `callsync import` decodes a file: a GBK export syncs.
        Case::new("csv-gbk-secret", "InSync")
            .list("a", json!({"defaultRegion": "CN", "source": {"secretRef": {"name": "csv-gbk", "key": "contacts.csv"}}}))
            .expect_list("a", 0, 0, vec![], ("True", "ContactsRead", "2 valid contacts, 0 invalid entries, 0 duplicates"))
            .message(&["2 contacts in sync"])
            .synced(&["13900000001", "13900000002"]),
        Case::new("csv-gbk-configmap", "InSync")
            .list("a", json!({"defaultRegion": "CN", "source": {"configMapRef": {"name": "csv-gbk-bin", "key": "contacts.csv"}}}))
            .csv(Store::ConfigMapBinary, "csv-gbk-bin", "contacts.csv", "gbk.csv")
            .expect_list("a", 0, 0, vec![], ("True", "ContactsRead", "2 valid contacts, 0 invalid entries, 0 duplicates"))
            .message(&["2 contacts in sync"])
            .synced(&["13900000001", "13900000002"]),
        Case::new("csv-binary", "ContactListUnreadable")
            .list("a", json!({"source": {"secretRef": {"name": "csv-binary", "key": "contacts.csv"}}}))
            .csv(Store::Secret, "csv-binary", "contacts.csv", "binary.bin")
            .expect_list("a", 0, 0, vec![], ("False", "SourceUnreadable", "the bytes are not valid"))
            .message(&["the bytes are not valid"]),
        Case::new("csv-control-chars", "ContactListUnreadable")
            .list("a", json!({"source": {"configMapRef": {"name": "csv-control", "key": "contacts.csv"}}}))
            .csv(Store::ConfigMap, "csv-control", "contacts.csv", "control-chars.csv")
            .expect_list("a", 0, 0, vec![], ("False", "SourceUnreadable", "no phone column among the headers (\\u{0}\\u{1}"))
            .message(&["no phone column among the headers"]),
        Case::new("csv-empty", "ContactListUnreadable")
            .list("a", json!({"source": {"secretRef": {"name": "csv-empty", "key": "contacts.csv"}}}))
            .csv(Store::Secret, "csv-empty", "contacts.csv", "empty.csv")
            .expect_list("a", 0, 0, vec![], ("False", "SourceUnreadable", "the CSV has no header row"))
            .message(&["the CSV has no header row"]),
        Case::new("csv-no-phone-column", "ContactListUnreadable")
            .list("a", json!({"source": {"secretRef": {"name": "csv-nophone", "key": "contacts.csv"}}}))
            .csv(Store::Secret, "csv-nophone", "contacts.csv", "no-phone-column.csv")
            .expect_list("a", 0, 0, vec![], ("False", "SourceUnreadable", "no phone column among the headers (contact, name)"))
            .message(&["no phone column among the headers (contact, name)"]),
        Case::new("csv-duplicate-header", "ContactListUnreadable")
            .list("a", json!({"source": {"secretRef": {"name": "csv-duphead", "key": "contacts.csv"}}}))
            .csv(Store::Secret, "csv-duphead", "contacts.csv", "duplicate-header.csv")
            .expect_list("a", 0, 0, vec![], ("False", "SourceUnreadable", "the header names \"Phone\" twice (columns 1 and 3)"))
            .message(&["twice"]),
        // A broken quote refuses the whole source (read on, it swallows the rows after it).
        Case::new("csv-truncated-quote", "ContactListUnreadable")
            .list("a", json!({"defaultRegion": "CN", "source": {"configMapRef": {"name": "csv-quote", "key": "contacts.csv"}}}))
            .expect_list("a", 0, 0, vec![], ("False", "SourceUnreadable", "CSV line 3, column 13: the quoted field opened here is never closed"))
            .message(&["CSV line 3, column 13"])
            .synced(&[]),
        Case::new("csv-stray-quote", "ContactListUnreadable")
            .list("a", json!({"defaultRegion": "CN", "source": {"secretRef": {"name": "csv-stray", "key": "contacts.csv"}}}))
            .csv(Store::Secret, "csv-stray", "contacts.csv", "stray-quote.csv")
            .expect_list("a", 0, 0, vec![], ("False", "SourceUnreadable", "CSV line 3, column 13: the quoted field opened here ends on line 51, column 13"))
            .message(&["CSV line 3, column 13", "a stray quote?"])
            .synced(&[]),
        // A named ContactList that does not exist is not an empty list.
        Case {
            names: Some(json!(["named-list-missing-a", "no-such-list"])),
            ..Case::new("named-list-missing", "ContactListNotFound")
                .list("a", cn(&["13900000661"]))
                .message(&["ContactList no-such-list named in spec.contactLists.names not found in this namespace", "nothing is removed"])
                .synced(&[])
        },
        Case {
            names: Some(json!(["named-list-other-namespace"])),
            selector: Some(json!({"matchLabels": {"case": "no-such-case"}})),
            ..Case::new("named-list-other-namespace", "ContactListNotFound")
                .message(&["ContactList named-list-other-namespace named in spec.contactLists.names not found"])
                .synced(&[])
        },
        Case::new("csv-truncated-row", "InvalidContacts")
            .list("a", json!({"defaultRegion": "CN", "source": {"secretRef": {"name": "csv-row", "key": "contacts.csv"}}}))
            .csv(Store::Secret, "csv-row", "contacts.csv", "truncated-row.csv")
            .expect_list("a", 1, 0, vec![(3, "expected 3 fields, found 2")], ("True", "ContactsRead", "1 valid"))
            .synced(&["13900000021"]),
        Case::new("csv-excel", "InvalidContacts")
            .list("a", json!({"defaultRegion": "CN", "source": {"secretRef": {"name": "csv-excel", "key": "contacts.csv"}}}))
            .csv(Store::Secret, "csv-excel", "contacts.csv", "excel.csv")
            .expect_list("a", 1, 0, vec![(2, "spreadsheet scientific notation lost digits")], ("True", "ContactsRead", "2 valid"))
            .synced(&["13900000051", "13900000052"]),
        // Credentials and references.
        Case {
            provider: "p-no-secret",
            objects: vec![lll_provider("p-no-secret", endpoint, "no-such-creds", "token")],
            ..Case::new("credentials-secret-missing", "CredentialsRejected")
                .list("a", cn(&["13900000401"]))
                .message(&["no-such-creds"])
        },
        Case {
            provider: "p-no-key",
            objects: vec![lll_provider("p-no-key", endpoint, "creds", "no-such-key")],
            ..Case::new("credentials-key-missing", "CredentialsRejected")
                .list("a", cn(&["13900000411"]))
                .message(&["no-such-key"])
        },
        Case {
            provider: "p-wrong-token",
            objects: vec![
                secret("wrong-creds", json!({"token": super::WRONG_TOKEN})),
                lll_provider("p-wrong-token", endpoint, "wrong-creds", "token"),
            ],
            ..Case::new("credentials-wrong", "CredentialsRejected").list("a", cn(&["13900000421"]))
        },
        // Secrets are used only when labelled for the use: nothing reaches the provider.
        Case {
            provider: "p-unlabelled",
            objects: vec![
                unlabelled_secret("unlabelled-creds", json!({"token": super::sim::LLL_TOKEN})),
                lll_provider("p-unlabelled", endpoint, "unlabelled-creds", "token"),
            ],
            ..Case::new("credentials-not-opted-in", "SecretNotOptedIn")
                .list("a", cn(&["13900000481"]))
                .message(&["unlabelled-creds", "kubectl label secret", "callsync.io/credentials=true"])
                .synced(&[])
        },
        Case::new("contacts-not-opted-in", "ContactListUnreadable")
            .list("a", json!({"source": {"secretRef": {"name": "csv-unlabelled", "key": "contacts.csv"}}}))
            .with_objects(vec![unlabelled_secret(
                "csv-unlabelled",
                json!({"contacts.csv": "phone\n+8613900000491\n"}),
            )])
            .expect_list("a", 0, 0, vec![], ("False", "SourceUnreadable", "callsync.io/contacts"))
            .message(&["csv-unlabelled", "callsync.io/contacts=true"])
            .synced(&[]),
        Case {
            provider: "no-such-provider",
            ..Case::new("provider-missing", "ProviderNotFound")
                .list("a", cn(&["13900000431"]))
                .message(&["CallProvider no-such-provider not found in this namespace"])
        },
        Case {
            provider: "acct-other",
            ..Case::new("provider-other-namespace", "ProviderNotFound")
                .list("a", cn(&["13900000441"]))
                .message(&["CallProvider acct-other not found in this namespace"])
        },
        Case {
            provider: "p-other-secret",
            objects: vec![lll_provider("p-other-secret", endpoint, "creds-other", "token")],
            ..Case::new("credentials-other-namespace", "CredentialsRejected")
                .list("a", cn(&["13900000451"]))
                .message(&["creds-other"])
        },
        Case::new("csv-other-namespace", "ContactListUnreadable")
            .list("a", json!({"source": {"secretRef": {"name": "csv-other", "key": "contacts.csv"}}}))
            .expect_list("a", 0, 0, vec![], ("False", "SourceUnreadable", "Secret csv-other not found"))
            .message(&["Secret csv-other not found"]),
        // The label `shared: yes` is on a list here and on one in the other namespace.
        Case {
            selector: Some(json!({"matchLabels": {"shared": "yes"}})),
            ..Case::new("lists-other-namespace", "InSync")
                .list("a", cn(&["13900000461"]))
                .synced(&["13900000461"])
        },
        Case {
            selector: Some(json!({"matchExpressions": [{"key": "case", "operator": "Contains", "values": ["x"]}]})),
            ..Case::new("selector-bad-operator", "InvalidSelector")
                .list("a", cn(&["13900000471"]))
                .message(&["unknown operator \"Contains\""])
        },
        Case {
            selector: Some(json!({"matchExpressions": [{"key": "case", "operator": "In", "values": []}]})),
            ..Case::new("selector-in-without-values", "InvalidSelector")
                .list("a", cn(&["13900000481"]))
                .message(&["operator In on key \"case\" needs at least one value"])
        },
        Case {
            selector: Some(json!({"matchExpressions": [{"key": "case", "operator": "Exists", "values": ["x"]}]})),
            ..Case::new("selector-exists-with-values", "InvalidSelector")
                .list("a", cn(&["13900000491"]))
                .message(&["operator Exists on key \"case\" takes no values"])
        },
        Case {
            selector: Some(json!({"matchLabels": {"bad key!": "x"}})),
            ..Case::new("selector-bad-key", "InvalidSelector")
                .list("a", cn(&["13900000492"]))
                .message(&["\"bad key!\" is not a valid label key"])
        },
        Case {
            selector: Some(json!({"matchLabels": {"case": "two words"}})),
            ..Case::new("selector-bad-value", "InvalidSelector")
                .list("a", cn(&["13900000493"]))
                .message(&["\"two words\" is not a valid value for label \"case\""])
        },
        Case {
            provider: "p-unreachable",
            objects: vec![lll_provider("p-unreachable", "http://127.0.0.1:9", "creds", "token")],
            ..Case::new("provider-unreachable", "ProviderUnreachable").list("a", cn(&["13900000501"]))
        },
        // Safety item 8: a CallProvider on plain http without `insecure: true` would send its
        // token and the phones in clear; refused before any request, naming the endpoint.
        Case {
            provider: "p-plain-http",
            objects: vec![{
                let mut provider = lll_provider("p-plain-http", endpoint, "creds", "token");
                provider["spec"]["insecure"] = json!(false);
                provider
            }],
            ..Case::new("plain-http-not-insecure", "InvalidProviderConfig")
                .list("a", cn(&["13900000541"]))
                .message(&["is plain http", "spec.insecure: true"])
        },
        Case {
            task_id: "no-such-remote-task".into(),
            ..Case::new("remote-task-missing", "TaskNotFound").list("a", cn(&["13900000511"]))
        },
        // Safety item 7: a forged ledger Secret declaring 3M entries (the had 50M and
        // took 5.2 GB) is refused from its header, naming the Secret.
        Case {
            objects: vec![forged_ledger("ledger-forged", 3_000_000)],
            ..Case::new("ledger-forged", "LedgerCorrupt")
                .list("a", cn(&["13900000521"]))
                .message(&[
                    "Secret ledger-forged-ledger",
                    "entry count is 3000000, more than the 2000000 this build reads",
                ])
        },
        // Scale, bad input: a valid ledger of another CallTask (copied or restored by hand) is
        // refused, naming the Secret and both UIDs; planned against, it would claim that
        // task's contacts as this one's.
        Case {
            objects: ledger_of_another_task("ledger-foreign", None),
            ..Case::new("ledger-foreign", "LedgerCorrupt")
                .list("a", cn(&["13900000551"]))
                .message(&[
                    "Secret ledger-foreign-ledger",
                    "holds the ledger of the CallTask with UID 0b8f6a8e-6f0e-4a57-9d55-3c1f4f1f2a10",
                ])
        },
        // A detached snapshot whose journal was altered: the digest names the journal.
        Case {
            objects: ledger_of_another_task("journal-damaged", Some(JournalDamage::Digest)),
            ..Case::new("journal-damaged", "LedgerCorrupt")
                .list("a", cn(&["13900000561"]))
                .message(&[
                    "the journal in head Secret journal-damaged-ledger does not match its digest",
                ])
        },
        // A journal with a valid digest, written for another ledger than its snapshot.
        Case {
            objects: ledger_of_another_task("journal-foreign", Some(JournalDamage::Foreign)),
            ..Case::new("journal-foreign", "LedgerCorrupt")
                .list("a", cn(&["13900000571"]))
                .message(&[
                    "Secret journal-foreign-ledger: journal: the journal belongs to another \
                     ledger than its snapshot",
                ])
        },
        // A sealed journal (a Secret of its own that the head lists) of another ledger: the
        // sealed journal's Secret is named, not the head.
        Case {
            objects: ledger_of_another_task("sealed-foreign", Some(JournalDamage::SealedForeign)),
            ..Case::new("sealed-foreign", "LedgerCorrupt")
                .list("a", cn(&["13900000581"]))
                .message(&[
                    "Secret sealed-foreign-ledger-g1-copied-s0123456789ab: sealed journal 0: the \
                     journal belongs to another ledger than its snapshot",
                ])
        },
        // The head lists a sealed journal whose Secret is gone.
        Case {
            objects: ledger_of_another_task("sealed-missing", Some(JournalDamage::SealedMissing)),
            ..Case::new("sealed-missing", "LedgerCorrupt")
                .list("a", cn(&["13900000591"]))
                .message(&[
                    "sealed journal Secret sealed-missing-ledger-g1-copied-s0123456789ab is missing",
                ])
        },
        // Safety item 7: every answer of this account is a 16 KiB gzip that inflates to 16 MiB.
        Case {
            provider: "p-answer-bomb",
            objects: vec![
                secret("creds-bomb", json!({"token": super::BOMB_TOKEN})),
                lll_provider_of(
                    "p-answer-bomb",
                    endpoint,
                    super::BOMB_USER,
                    "creds-bomb",
                    "token",
                ),
            ],
            ..Case::new("provider-answer-bomb", "InvalidResponse")
                .list("a", cn(&["13900000531"]))
                .message(&[
                    "unexpected answer from http://127.0.0.1:",
                    "is more than the 8388608 bytes allowed (after decompression)",
                ])
        },
    ]
}

/// The head Secret of a ledger as the store writes it (annotations, digest), holding a forged
/// ledger whose header declares `count` entries, followed by 100,000 real-looking ones.
/// What is wrong with the journal of [`ledger_of_another_task`].
enum JournalDamage {
    /// Its bytes no longer match the digest in the head.
    Digest,
    /// It was written for another ledger (its snapshot is then one of no particular task).
    Foreign,
    /// As `Foreign`, but sealed: a Secret of its own, listed by the head.
    SealedForeign,
    /// Sealed and listed by the head, but its Secret is not there.
    SealedMissing,
}

/// Ledger Secrets for `task`, written with the real codec: without `journal`, an inline
/// snapshot of a ledger made for another CallTask's UID; with one, a detached snapshot (a shard
/// Secret) whose journal in the head is damaged as said.
fn ledger_of_another_task(task: &str, journal: Option<JournalDamage>) -> Vec<Value> {
    use callsync::contacts::{ContentDigest, Phone};
    use callsync::ledger::{Ledger, codec, journal as ledger_journal};
    use sha2::Digest;
    let sha = |data: &[u8]| hex::encode(sha2::Sha256::digest(data));
    let other_uid = "0b8f6a8e-6f0e-4a57-9d55-3c1f4f1f2a10";
    let phone = Phone::parse("+8613900000999", None).expect("valid");
    let mut ledger = match journal {
        None => Ledger::fresh(Some(other_uid)),
        Some(_) => Ledger::fresh(None),
    };
    ledger.record_add_intent(&[(phone, ContentDigest(1))]);
    let snapshot = codec::encode(&ledger).expect("encode");
    let mut annotations = json!({"callsync.io/ledger-generation": "1",
                                 "callsync.io/ledger-shards": "1",
                                 "callsync.io/ledger-sha256": sha(&snapshot),
                                 "callsync.io/ledger-write": "copied"});
    let secret = |name: String, annotations: Value, data: Value| {
        json!({"apiVersion": "v1", "kind": "Secret", "type": "callsync.io/ledger",
               "metadata": {"name": name, "annotations": annotations}, "data": data})
    };
    let Some(damage) = journal else {
        return vec![secret(
            format!("{task}-ledger"),
            annotations,
            json!({"ledger": super::b64(&snapshot)}),
        )];
    };
    let bytes = match damage {
        JournalDamage::Digest => {
            ledger.record_add_intent(&[(phone, ContentDigest(2))]);
            ledger_journal::encode(&ledger).expect("journal")
        }
        JournalDamage::Foreign | JournalDamage::SealedForeign | JournalDamage::SealedMissing => {
            let mut theirs = Ledger::fresh(Some(other_uid));
            theirs.record_add_intent(&[(phone, ContentDigest(3))]);
            ledger_journal::encode(&theirs).expect("journal")
        }
    };
    annotations["callsync.io/ledger-layout"] = json!("detached");
    let shard = secret(
        format!("{task}-ledger-g1-copied-0"),
        json!({}),
        json!({"ledger": super::b64(&snapshot)}),
    );
    match damage {
        JournalDamage::Digest | JournalDamage::Foreign => {
            annotations["callsync.io/ledger-journal-sha256"] = json!(match damage {
                JournalDamage::Digest => sha(b"another journal"),
                _ => sha(&bytes),
            });
            let head = secret(
                format!("{task}-ledger"),
                annotations,
                json!({"journal": super::b64(&bytes)}),
            );
            vec![shard, head]
        }
        JournalDamage::SealedForeign | JournalDamage::SealedMissing => {
            let id = "0123456789ab";
            annotations["callsync.io/ledger-layout"] = json!("detached-sealed");
            annotations["callsync.io/ledger-sealed"] = json!(format!("{id}:{}", sha(&bytes)));
            let head = secret(format!("{task}-ledger"), annotations, json!({}));
            let sealed = secret(
                format!("{task}-ledger-g1-copied-s{id}"),
                json!({}),
                json!({"journal": super::b64(&bytes)}),
            );
            match damage {
                JournalDamage::SealedForeign => vec![shard, sealed, head],
                _ => vec![shard, head],
            }
        }
    }
}

fn forged_ledger(task: &str, count: u64) -> Value {
    use sha2::Digest;
    use std::io::Write;
    let mut raw = b"CSL\x01\x03uid\x01".to_vec();
    let mut v = count;
    while v >= 0x80 {
        raw.push((v as u8) | 0x80);
        v >>= 7;
    }
    raw.push(v as u8);
    for _ in 0..100_000 {
        raw.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&raw).expect("gzip");
    let data = gz.finish().expect("gzip");
    let digest = hex::encode(sha2::Sha256::digest(&data));
    json!({"apiVersion": "v1", "kind": "Secret", "type": "callsync.io/ledger",
           "metadata": {"name": format!("{task}-ledger"),
                        "annotations": {"callsync.io/ledger-generation": "1",
                                        "callsync.io/ledger-shards": "1",
                                        "callsync.io/ledger-sha256": digest,
                                        "callsync.io/ledger-write": "forged"}},
           "data": {"ledger": super::b64(&data)}})
}
