//! The number listing (`GET …/task/{task_id}/number?page=&per_page=`).
//!
//! [`LonglonglongClient::list_all`] reads it to the end: the listing drives removals and "gone"
//! conclusions, so it must be complete or an error. The docs do not describe it: a server may
//! serve fewer rows than `per_page` asked, or no `meta`. So the end is never taken from missing
//! metadata, nor from a short page (a capped page is short too): it is an empty page, or the
//! rows counted up to `meta.total` on the last page. A listing whose count disagrees with its
//! own `total`, whose pages repeat, or whose rows cannot be read is an
//! [`ProviderError::InvalidResponse`] naming the endpoint.
//!
//! [`LonglonglongClient::find`] only looks for some phones (to confirm adds): a page that shows
//! a phone proves it is there, so it stops as soon as all are seen.
use std::collections::HashSet;

use reqwest::Method;
use serde_json::Value;

use super::answers::{listed_rows, remote_contact};
use super::{LonglonglongClient, Req};
use crate::providers::http::Sent;
use crate::providers::{ProviderError, RemoteContact, SecretString, TaskRef};

/// Rows a page asked for (the docs' example uses 15; the maximum is not documented).
pub const LIST_PAGE_SIZE: usize = 100;

/// Pages read at most: 1 million numbers at 20 a page. Beyond it the listing is refused rather
/// than read forever.
const MAX_PAGES: u64 = 50_000;

/// A complete listing and the requests it took.
pub(super) struct Listing {
    pub(super) contacts: Vec<RemoteContact>,
    pub(super) requests: u32,
}

/// One page as read.
struct Page {
    rows: Vec<Value>,
    contacts: Vec<RemoteContact>,
    total: Option<u64>,
    last_page: Option<u64>,
    attempts: u32,
}

impl LonglonglongClient {
    fn list_endpoint(&self, task: &TaskRef) -> String {
        format!("number-list (GET {})", self.task_path(task, "/number"))
    }

    fn invalid_listing(&self, task: &TaskRef, detail: String) -> ProviderError {
        ProviderError::InvalidResponse {
            endpoint: self.list_endpoint(task),
            detail,
        }
    }

    async fn fetch_page(
        &self,
        task: &TaskRef,
        token: &SecretString,
        page: u64,
        per_page: usize,
    ) -> Result<Page, ProviderError> {
        let mut query = vec![
            ("page", page.to_string()),
            ("per_page", per_page.to_string()),
        ];
        if let Some(sub) = self.sub_user() {
            query.push(("sub_user_id", sub.to_owned()));
        }
        let path = self.task_path(task, "/number");
        let Sent {
            value: envelope,
            attempts,
            ..
        } = self
            .call(
                Req::new("number-list", Method::GET, path).query(query),
                token,
                Some(task),
            )
            .await?;
        let (rows, inner_meta) = listed_rows(&envelope.data)
            .map_err(|e| self.invalid_listing(task, format!("page {page}: {e}")))?;
        let contacts = rows
            .iter()
            .map(|row| remote_contact(row, &self.inner.echo))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.invalid_listing(task, format!("page {page}: {e}")))?;
        let meta = envelope.meta.as_ref();
        Ok(Page {
            rows: rows.to_vec(),
            contacts,
            total: meta.and_then(|m| m.total).or(inner_meta.total),
            last_page: meta.and_then(|m| m.last_page).or(inner_meta.last_page),
            attempts,
        })
    }

    /// The task's `meta.total`, read from a page of one row; `None` when the answer carries no
    /// total (the listing then counts its rows itself).
    pub(super) async fn listed_total(
        &self,
        task: &TaskRef,
        token: &SecretString,
    ) -> Result<Option<u64>, ProviderError> {
        Ok(self.fetch_page(task, token, 1, 1).await?.total)
    }

    /// The whole listing, proven complete.
    pub(super) async fn list_all(
        &self,
        task: &TaskRef,
        token: &SecretString,
    ) -> Result<Listing, ProviderError> {
        let mut contacts = Vec::new();
        let mut requests = 0;
        let mut previous: Option<Vec<Value>> = None;
        // A total said once holds for the later pages that say none.
        let mut total: Option<u64> = None;
        for page in 1..=MAX_PAGES {
            let read = self.fetch_page(task, token, page, LIST_PAGE_SIZE).await?;
            requests += read.attempts;
            total = read.total.or(total);
            let listed = contacts.len() as u64;
            if read.rows.is_empty() {
                return match total {
                    Some(total) if total != listed => Err(self.invalid_listing(
                        task,
                        format!(
                            "page {page} is empty after {listed} rows, but meta.total says {total}"
                        ),
                    )),
                    _ => Ok(Listing { contacts, requests }),
                };
            }
            if previous.as_ref() == Some(&read.rows) {
                return Err(self.invalid_listing(
                    task,
                    format!(
                        "page {page} repeats page {}: the listing does not page",
                        page - 1
                    ),
                ));
            }
            contacts.extend(read.contacts);
            let listed = contacts.len() as u64;
            if let Some(total) = total {
                if listed > total {
                    return Err(self.invalid_listing(
                        task,
                        format!(
                            "{listed} rows listed by page {page}, more than meta.total ({total})"
                        ),
                    ));
                }
                if listed == total && read.last_page.is_none_or(|last| page >= last) {
                    return Ok(Listing { contacts, requests });
                }
            }
            previous = Some(read.rows);
        }
        Err(self.invalid_listing(task, format!("no end after {MAX_PAGES} pages")))
    }

    /// Which of `wanted` the listing shows, reading as little as it can: page 1, then from the
    /// last page backwards (new numbers are at one end or the other; the order is not
    /// documented), or forwards when no `last_page` is given. Seen phones are certain; phones
    /// not seen may still be there.
    pub(super) async fn find(
        &self,
        task: &TaskRef,
        token: &SecretString,
        wanted: &HashSet<String>,
    ) -> Result<(HashSet<String>, u32), ProviderError> {
        let mut seen = HashSet::new();
        let mut requests = 0;
        let look = |page: &Page, seen: &mut HashSet<String>| {
            for contact in &page.contacts {
                if wanted.contains(&contact.phone) {
                    seen.insert(contact.phone.clone());
                }
            }
            seen.len() == wanted.len()
        };
        let first = self.fetch_page(task, token, 1, LIST_PAGE_SIZE).await?;
        requests += first.attempts;
        if look(&first, &mut seen) || first.rows.is_empty() {
            return Ok((seen, requests));
        }
        let pages: Box<dyn Iterator<Item = u64> + Send> = match first.last_page {
            Some(last) => Box::new((2..=last.min(MAX_PAGES)).rev()),
            None => Box::new(2..=MAX_PAGES),
        };
        let mut previous = first.rows;
        for page in pages {
            let read = self.fetch_page(task, token, page, LIST_PAGE_SIZE).await?;
            requests += read.attempts;
            if look(&read, &mut seen) || read.rows.is_empty() || read.rows == previous {
                break;
            }
            previous = read.rows;
        }
        Ok((seen, requests))
    }
}
