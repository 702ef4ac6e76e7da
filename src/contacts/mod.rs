//! Contacts: canonical phone numbers, the normalised contact, CSV sources and the desired set.
//! Everything here is pure: plain data in, plain data out.
pub mod csv;
pub mod desired;
#[doc(hidden)]
pub mod desired_reference;
mod mask;
pub mod model;
mod observed;
mod packed;
pub mod parsed_list;
pub mod phone;
mod phone_fast;
pub mod remote_id;
pub mod source_limit;
mod valid_memo;
pub(crate) use valid_memo::U64Hash;

pub use desired::{DesiredKey, DesiredSet, ListContacts, ListInput, ListStats};
pub use mask::mask_phone;
pub use model::{ContentDigest, NormalizedContact};
pub use observed::ObservedContact;
pub use parsed_list::ParsedList;
pub use phone::{Phone, PhoneError};
pub use remote_id::RemoteId;
