//! `listOrder`, paged by its totals.
//!
//! The listing drives removals and settles contacts in doubt, so it must be complete or an
//! error. The response shape is not in the public docs: callsync reads `totalCount` and the rows
//! (`orderList`, or `list` / `data`), and pages on until it has read `totalCount` orders. A server
//! may cap the page size below what was asked: a short page that is not the end makes the client
//! ask for pages of that size from there. A listing that does not add up (no `totalCount`, a total
//! that changes between pages, an empty page before the end, more rows than the total, an order
//! listed twice) is an error naming `listOrder`, never a partial "complete" listing.
use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use std::borrow::Cow;

use serde::Serialize;

use super::answers::OrderRow;
use super::echo::{self, Echo};
use super::page::parse_page;
use super::{CallbotClient, Keys, PRODUCT_ID};
use crate::api::PhoneFormat;
use crate::contacts::{Phone, U64Hash, mask_phone};
use crate::providers::wire::to_json;
use crate::providers::{ProviderError, RemoteContact, RemoteState, TaskRef};

/// `listOrder` page size asked for (the docs' example).
pub const LIST_PAGE_SIZE: u64 = 100;
/// Order ids per filtered `listOrder` request (the filter's limit is not documented; this is
/// `listOrderDetail`'s documented one).
const FILTER_IDS: usize = 500;

const OP: &str = "listOrder";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ListReq<'a> {
    #[serde(rename = "productID")]
    product_id: &'a str,
    #[serde(rename = "userTaskID")]
    user_task_id: &'a str,
    options: ListOptions<'a>,
    page: u64,
    size: u64,
}

impl<'a> ListReq<'a> {
    /// Page `page` of `size` orders of the task, all of them or those with the given ids.
    fn page(task: &'a TaskRef, order_ids: Option<&'a [String]>, page: u64, size: u64) -> Self {
        Self {
            product_id: PRODUCT_ID,
            user_task_id: &task.id,
            options: ListOptions {
                order_id: order_ids,
                finish: None,
            },
            page,
            size,
        }
    }
}

/// Filters: by order ids or none.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ListOptions<'a> {
    #[serde(rename = "orderID")]
    order_id: Option<&'a [String]>,
    finish: Option<i64>,
}

impl CallbotClient {
    /// Every order of the task, phones checked: each must read as country code + number (a
    /// `+` or spaces are dropped). A masked or otherwise unreadable phone makes the listing an
    /// error: callsync could not tell which contact the order is.
    pub async fn list(&self, task: &TaskRef) -> Result<Option<Vec<RemoteContact>>, ProviderError> {
        let mut contacts = Vec::new();
        self.list_each(task, &mut |contact| contacts.push(contact))
            .await?;
        Ok(Some(contacts))
    }

    /// [`list`](Self::list), each contact handed to `each` as its page is read: a listing is
    /// never held whole in the client's form (at a million orders that is ~150 MB the caller
    /// would hold beside its own copy). Always `Ok(true)`: Callbot can list. On `Err` the
    /// contacts handed over so far are no listing, and must be dropped.
    pub async fn list_each(
        &self,
        task: &TaskRef,
        each: &mut (dyn FnMut(RemoteContact) + Send),
    ) -> Result<bool, ProviderError> {
        let keys = self.keys().await?;
        let endpoint = self.endpoint(OP);
        let mut on_row = |row: OrderRow| {
            each(listed_contact(&endpoint, row)?);
            Ok::<_, ProviderError>(())
        };
        self.list_pages(task, &keys, None, &mut on_row).await?;
        Ok(true)
    }

    /// The task's `totalCount` as a listing reads it, from a page of one order: the count a
    /// full listing would read (a listing proves it reads exactly `totalCount` orders). A
    /// server that caps or ignores the size still answers with the total.
    pub async fn count(&self, task: &TaskRef) -> Result<Option<u64>, ProviderError> {
        let keys = self.keys().await?;
        let request = ListReq::page(task, None, 1, 1);
        let (answer, _) = self
            .call_with(OP, to_json(&request)?, &keys, Some(task), parse_page)
            .await?;
        match answer.total {
            Some(Ok(total)) => Ok(Some(total)),
            Some(Err(kind)) => {
                Err(self.invalid_listing(format!("totalCount is {kind}, not a count")))
            }
            None => Err(self.invalid_listing("no totalCount in a page of one order".into())),
        }
    }

    fn invalid_listing(&self, detail: String) -> ProviderError {
        ProviderError::InvalidResponse {
            endpoint: self.endpoint(OP),
            detail,
        }
    }

    /// The task's orders (all, or those with the given ids), phones as the provider wrote
    /// them, and the requests made.
    pub(super) async fn list_orders(
        &self,
        task: &TaskRef,
        keys: &Keys,
        order_ids: Option<Vec<String>>,
    ) -> Result<(Vec<OrderRow>, u32), ProviderError> {
        let mut rows = Vec::new();
        let mut on_row = |row: OrderRow| {
            rows.push(row);
            Ok::<_, ProviderError>(())
        };
        let requests = match order_ids {
            None => self.list_pages(task, keys, None, &mut on_row).await?,
            Some(ids) => {
                let mut requests = 0;
                for chunk in ids.chunks(FILTER_IDS) {
                    requests += self
                        .list_pages(task, keys, Some(chunk), &mut on_row)
                        .await?;
                }
                requests
            }
        };
        Ok((rows, requests))
    }

    /// Pages through `listOrder` (all orders, or those with the given ids), handing each row
    /// to `on_row` once its page has been checked; returns the requests made. An error from
    /// `on_row` ends the listing with it.
    async fn list_pages(
        &self,
        task: &TaskRef,
        keys: &Keys,
        order_ids: Option<&[String]>,
        on_row: &mut (dyn FnMut(OrderRow) -> Result<(), ProviderError> + Send),
    ) -> Result<u32, ProviderError> {
        let bad = |detail: String| self.invalid_listing(detail);
        let mut read: u64 = 0;
        // The keys are SipHash values already: U64Hash only spreads them.
        let mut seen: HashSet<u64, U64Hash> = HashSet::default();
        let mut total: Option<u64> = None;
        let mut requests = 0;
        let mut page = 1;
        let mut size = LIST_PAGE_SIZE;
        loop {
            let request = ListReq::page(task, order_ids, page, size);
            let (answer, attempts) = self
                .call_with(OP, to_json(&request)?, keys, Some(task), parse_page)
                .await?;
            requests += attempts;
            let this_total = match answer.total {
                Some(Ok(total)) => total,
                Some(Err(kind)) => return Err(bad(format!("totalCount is {kind}, not a count"))),
                None => {
                    return Err(bad(
                        "no totalCount: cannot tell whether the listing is complete".into(),
                    ));
                }
            };
            match total {
                Some(before) if before != this_total => {
                    return Err(bad(format!(
                        "totalCount changed from {before} to {this_total} while paging; \
                         the listing is not consistent"
                    )));
                }
                _ => total = Some(this_total),
            }
            let page_rows = match answer.rows {
                Some(Ok(items)) => items,
                Some(Err(kind)) => {
                    return Err(bad(format!("orderList is {kind}, not a list")));
                }
                None if this_total == 0 => break,
                None => return Err(bad(format!("page {page} has no orderList"))),
            };
            let count = page_rows.len() as u64;
            for item in page_rows {
                let row = item.map_err(|detail| bad(format!("page {page}: {detail}")))?;
                if let Some(id) = &row.order_id
                    && !seen.insert(hash(id))
                {
                    return Err(bad(format!(
                        "order {id} listed twice; the pages are not consistent"
                    )));
                }
                on_row(row)?;
                read += 1;
            }
            if read > this_total {
                return Err(bad(format!(
                    "{read} orders listed but totalCount is {this_total}"
                )));
            }
            if read == this_total {
                break;
            }
            if count == 0 {
                return Err(bad(format!(
                    "page {page} is empty but only {read} of {this_total} orders were listed"
                )));
            }
            if count < size {
                // The server serves smaller pages than asked: ask for its size from here on.
                // The next page number is only well defined when what was read is a whole
                // number of such pages.
                if !read.is_multiple_of(count) {
                    return Err(bad(format!(
                        "page {page} has {count} orders (asked {size}) before the end \
                         ({read} of {this_total}); cannot tell where the next page starts"
                    )));
                }
                size = count;
                page = read / count + 1;
            } else {
                page += 1;
            }
        }
        Ok(requests)
    }
}

/// A listed order as the provider trait hands it on, its phone checked (see `list`).
fn listed_contact(endpoint: &str, row: OrderRow) -> Result<RemoteContact, ProviderError> {
    let phone = match readable_phone(&row.phone) {
        // Written as plain digits already: keep the string the row brought.
        Some(Cow::Borrowed(_)) => row.phone,
        Some(Cow::Owned(digits)) => digits,
        None => {
            return Err(ProviderError::InvalidResponse {
                endpoint: endpoint.to_owned(),
                detail: format!(
                    "an order's phone ({}) does not read as country code + number; \
                     the listing cannot tell which contact it is",
                    mask_phone(&row.phone)
                ),
            });
        }
    };
    Ok(RemoteContact {
        phone,
        remote_id: row.order_id,
        state: row.state,
        removable: row.state == RemoteState::Pending,
    })
}

/// An order id's hash, to find an order listed twice without keeping a second copy of every id.
fn hash(id: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    id.hash(&mut hasher);
    hasher.finish()
}

/// The phone as country code + number digits, when the provider's writing reads as one (a `+`,
/// spaces or dashes are dropped); `None` for masked or unreadable phones, or digits that are no
/// valid international number (a number written without its country code often is not).
fn readable_phone(raw: &str) -> Option<Cow<'_, str>> {
    let digits = if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) {
        // What `echo::read` would keep, without copying it.
        Cow::Borrowed(raw)
    } else {
        match echo::read(raw) {
            Echo::Digits(digits) => Cow::Owned(digits),
            Echo::Masked { .. } | Echo::Unreadable => return None,
        }
    };
    Phone::from_wire(&digits, PhoneFormat::InternationalDigits, None)
        .ok()
        .map(|_| digits)
}
