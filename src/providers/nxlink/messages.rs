//! Reading NXLink's `message` texts. The docs give one business code for everything (20000
//! "Business Error") and no message list, so the kind of a refusal is in its words, which may be
//! English or Chinese. Only specific readings are trusted: a message that merely contains
//! "not exist" (the account? the flow? the task?) is not "the contact is gone". Whatever is not
//! recognised is left to the caller to treat as in doubt (the fail-closed outcome rule).

/// What an `order/delete` refusal says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum DeleteRefusal {
    /// No contact with that `contactId` in the task.
    ContactNotFound,
    /// The contact is no longer Pending / Not Started.
    NotDeletable,
    /// Anything else: in doubt.
    Unrecognised,
}

/// True when `message` says that the task does not exist ("task does not exist", "任务不存在",
/// "taskId not found", "userTaskId 不存在").
pub(super) fn is_task_not_found(message: &str) -> bool {
    let lower = message.to_lowercase();
    let about_task = lower.contains("task") || message.contains("任务");
    about_task && says_missing(message, &lower) && !about_contact(message, &lower)
}

/// Reads an `order/delete` refusal.
pub(super) fn delete_refusal(message: &str) -> DeleteRefusal {
    let lower = message.to_lowercase();
    if about_contact(message, &lower) && says_missing(message, &lower) {
        DeleteRefusal::ContactNotFound
    } else if lower.contains("pending")
        || lower.contains("not started")
        || lower.contains("cannot be deleted")
        || lower.contains("can not be deleted")
        || lower.contains("not deletable")
        || message.contains("待开始")
        || message.contains("未开始")
        || message.contains("不可删除")
        || message.contains("不能删除")
        || message.contains("无法删除")
    {
        DeleteRefusal::NotDeletable
    } else {
        DeleteRefusal::Unrecognised
    }
}

/// The message is about a contact (NXLink calls them contacts and orders: `order/delete`).
fn about_contact(message: &str, lower: &str) -> bool {
    lower.contains("contact")
        || lower.contains("order")
        || message.contains("联系人")
        || message.contains("订单")
        || message.contains("名单")
        || message.contains("号码")
}

fn says_missing(message: &str, lower: &str) -> bool {
    lower.contains("not exist")
        || lower.contains("not found")
        || lower.contains("no such")
        || message.contains("不存在")
        || message.contains("未找到")
        || message.contains("找不到")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_english_and_chinese_refusals() {
        use DeleteRefusal::*;
        for text in [
            "contact does not exist",
            "contactId not found",
            "联系人不存在",
            "订单不存在",
        ] {
            assert_eq!(delete_refusal(text), ContactNotFound, "{text}");
            assert!(!is_task_not_found(text), "{text}");
        }
        for text in [
            "only contacts in the Pending / Not Started state can be deleted",
            "只能删除待开始类型的通话",
        ] {
            assert_eq!(delete_refusal(text), NotDeletable, "{text}");
        }
        for text in ["task does not exist", "任务不存在", "userTaskId not found"] {
            assert!(is_task_not_found(text), "{text}");
        }
        // "Something does not exist" is not "the contact is gone".
        for text in [
            "不存在",
            "record does not exist",
            "账号不存在",
            "flow not found",
            "",
        ] {
            assert_eq!(delete_refusal(text), Unrecognised, "{text}");
        }
    }
}
