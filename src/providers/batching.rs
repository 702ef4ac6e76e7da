//! Splitting a caller's batch into provider-sized requests.
use std::future::Future;

use super::{BatchOutcome, ItemResult, ProviderError};

/// Sends `items` in chunks of at most `max`, one after the other, and joins the outcomes with
/// indices into `items`. A failure of the first chunk is returned as `Err` (nothing applied); a
/// later failure stops the loop, marks the remaining items `Unknown` and is kept in
/// `interrupted`.
pub(crate) async fn in_chunks<'a, T, F, Fut>(
    items: &'a [T],
    max: usize,
    mut send: F,
) -> Result<BatchOutcome, ProviderError>
where
    F: FnMut(&'a [T]) -> Fut,
    Fut: Future<Output = Result<BatchOutcome, ProviderError>>,
{
    let max = max.max(1);
    let mut outcome = BatchOutcome::default();
    for (n, chunk) in items.chunks(max).enumerate() {
        let offset = n * max;
        match send(chunk).await {
            Ok(part) => outcome.extend_chunk(offset, part),
            Err(err) if n == 0 => return Err(err),
            Err(err) => {
                for index in offset..items.len() {
                    outcome.push(index, ItemResult::Unknown);
                }
                outcome.interrupted = Some(err);
                break;
            }
        }
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn splits_and_reports_interruptions() {
        let items: Vec<u32> = (0..7).collect();
        let mut sizes = Vec::new();
        let outcome = in_chunks(&items, 3, |chunk| {
            sizes.push(chunk.len());
            let n = sizes.len();
            async move {
                if n == 3 {
                    return Err(ProviderError::Busy {
                        code: 7,
                        message: "busy".into(),
                    });
                }
                let mut part = BatchOutcome::default();
                for i in 0..chunk.len() {
                    part.push(i, ItemResult::Accepted);
                }
                part.requests = 1;
                Ok(part)
            }
        })
        .await;
        let outcome = outcome.expect("first chunks went through");
        assert_eq!(sizes, vec![3, 3, 1]);
        assert_eq!(outcome.accepted(), 6);
        assert_eq!(outcome.result(6), Some(&ItemResult::Unknown));
        assert!(outcome.interrupted.is_some());
        assert_eq!(outcome.requests, 2);
    }

    #[tokio::test]
    async fn first_failure_is_an_error() {
        let items = [1, 2];
        let result = in_chunks(&items, 1, |_| async {
            Err(ProviderError::Config("x".into()))
        })
        .await;
        assert!(result.is_err());
    }
}
