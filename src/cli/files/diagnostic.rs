//! Findings about the input files, each saying where: file, document, object and field path.
use std::fmt;

/// Where an object came from: `examples/x.yaml: document 2 (ContactList "vip")`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The file as the user named it (or as found under a named folder).
    pub file: String,
    /// 1-based position of the YAML document in the file.
    pub document: usize,
    /// `Kind "name"`, once known.
    pub object: Option<String>,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: document {}", self.file, self.document)?;
        if let Some(object) = &self.object {
            write!(f, " ({object})")?;
        }
        Ok(())
    }
}

/// Error: the files cannot be used as they are. Warning: they can, but something is probably
/// not what the author meant (invalid contacts are skipped, as the controller skips them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// The file and document, or only the file (`document` 0) for file-level problems.
    pub origin: Origin,
    /// Field path inside the object (`spec.contacts[17]`), empty for the whole object.
    pub path: String,
    /// What is wrong, for people. Never holds a full phone number or a secret value.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.origin.document == 0 {
            write!(f, "{}", self.origin.file)?;
        } else {
            write!(f, "{}", self.origin)?;
        }
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// The findings of one run, in the order they were made.
#[derive(Clone, Debug, Default)]
pub struct Diagnostics {
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn error(&mut self, origin: &Origin, path: impl Into<String>, message: impl Into<String>) {
        self.push(Severity::Error, origin, path.into(), message.into());
    }

    pub fn warning(
        &mut self,
        origin: &Origin,
        path: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.push(Severity::Warning, origin, path.into(), message.into());
    }

    fn push(&mut self, severity: Severity, origin: &Origin, path: String, message: String) {
        self.items.push(Diagnostic {
            severity,
            origin: origin.clone(),
            path,
            message,
        });
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter().filter(|d| d.severity == Severity::Error)
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Warning)
    }

    pub fn error_count(&self) -> usize {
        self.errors().count()
    }

    pub fn warning_count(&self) -> usize {
        self.warnings().count()
    }

    /// Turns every warning into an error (`--strict`).
    pub fn make_warnings_errors(&mut self) {
        for item in &mut self.items {
            item.severity = Severity::Error;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn says_file_document_object_and_path() {
        let origin = Origin {
            file: "examples/x.yaml".into(),
            document: 2,
            object: Some("ContactList \"vip\"".into()),
        };
        let mut diagnostics = Diagnostics::default();
        diagnostics.error(
            &origin,
            "spec.contacts[17]",
            "phone 138****5678 is not valid",
        );
        assert_eq!(
            diagnostics.items[0].to_string(),
            "examples/x.yaml: document 2 (ContactList \"vip\"): spec.contacts[17]: phone 138****5678 is not valid"
        );
        let file_only = Origin {
            file: "a.yaml".into(),
            document: 0,
            object: None,
        };
        diagnostics.warning(&file_only, "", "no documents");
        assert_eq!(diagnostics.items[1].to_string(), "a.yaml: no documents");
        assert_eq!(
            (diagnostics.error_count(), diagnostics.warning_count()),
            (1, 1)
        );
    }
}
