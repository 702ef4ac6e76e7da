//! `importBatchCall`: the documented add path ("导入最新批次的号码"), used only where it is safe.
//!
//! The docs do not say what a new batch does to the orders of the previous one: another NXtele
//! page says undialled ones are deleted (the batch **replaces** the pending orders), but the
//! import page itself only says "latest batch", which a server may implement by **appending**.
//! Sending only the new contacts is wrong under "replace" (the undialled orders vanish);
//! sending every pending contact again is wrong under "append" (they are doubled). The two
//! readings agree only on a task with no undialled order, so that is the only place callsync
//! imports:
//!
//! 1. a complete `listOrder` read first: any undialled order (or one whose state is not known)
//!    refuses the import, naming the way out (`addEndpoint: addBatchCall`);
//! 2. every contact in one request: a second import could replace the first one's orders, so
//!    an import is never split (4001 is reported as it is);
//! 3. every item confirmed by a `listOrder` read by `orderID` afterwards: the answer's
//!    `errList` can reject an item, but only the read accepts one.
use super::answers::OrderRow;
use super::{CallbotClient, Keys, MAX_IMPORT};
use crate::providers::{
    BatchOutcome, ContactToAdd, ItemResult, ProviderError, RejectReason, RemoteState, TaskRef,
};

const OP: &str = "importBatchCall";

impl CallbotClient {
    pub(super) async fn import(
        &self,
        task: &TaskRef,
        batch: &[ContactToAdd],
        keys: &Keys,
    ) -> Result<BatchOutcome, ProviderError> {
        let endpoint = self.endpoint(OP);
        if batch.len() > MAX_IMPORT {
            return Err(ProviderError::Config(format!(
                "{endpoint}: {} contacts to add, more than one import carries ({MAX_IMPORT}); \
                 an import is never split, set spec.callbot.addEndpoint: addBatchCall",
                batch.len()
            )));
        }
        let (listed, mut requests) = self.list_orders(task, keys, None).await?;
        let undialled = undialled(&listed);
        if undialled > 0 {
            return Err(ProviderError::Config(format!(
                "{endpoint}: task {} has {undialled} undialled orders, which a new batch would \
                 replace or be added to (the docs leave it open), so it is not imported into; \
                 set spec.callbot.addEndpoint: addBatchCall (inferred, not in the provider's \
                 docs) to add to it",
                task.id
            )));
        }
        let (answer, attempts) = match self
            .call(OP, self.add_body(task, batch)?, keys, Some(task))
            .await
        {
            Err(ProviderError::BatchTooLarge { code, message }) => {
                return Err(ProviderError::BatchTooLarge {
                    code,
                    message: format!(
                        "{message} ({} contacts in one importBatchCall, which is never split; \
                         use addBatchCall)",
                        batch.len()
                    ),
                });
            }
            other => other?,
        };
        requests += attempts;
        let (mut results, id_in_use) = self.read_add_answer(OP, &answer, batch)?;
        // Only the read accepts: what the answer accepted, and our own orderIDs reported in
        // use, are confirmed by listing them.
        for result in &mut results {
            if *result == ItemResult::Accepted {
                *result = ItemResult::Unknown;
            }
        }
        for index in &id_in_use {
            results[*index] = ItemResult::Unknown;
        }
        requests += self.settle(task, batch, &mut results, keys).await;
        for index in id_in_use {
            if results[index] == ItemResult::Unknown {
                results[index] = ItemResult::Rejected {
                    reason: RejectReason::Duplicate,
                };
            }
        }
        let mut outcome = BatchOutcome::default();
        for (index, result) in results.into_iter().enumerate() {
            outcome.push(index, result);
        }
        outcome.requests = requests;
        Ok(outcome)
    }
}

/// Orders that are not dialled yet, or whose state the listing does not tell.
fn undialled(rows: &[OrderRow]) -> usize {
    rows.iter()
        .filter(|r| matches!(r.state, RemoteState::Pending | RemoteState::Unknown))
        .count()
}
